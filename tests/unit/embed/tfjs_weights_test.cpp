// Reading a TensorFlow.js weights manifest: shards concatenated in order,
// shapes checked, every inconsistency an error naming the file.
#include "tfjs_weights.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace sluice::embed {
namespace {

namespace fs = std::filesystem;

class TfjsWeightsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sluice_tfjs_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ / name, std::ios::binary) << bytes;
  }
  static std::string floats(std::initializer_list<float> values) {
    std::string s;
    for (float v : values) s.append(reinterpret_cast<const char*>(&v), sizeof v);
    return s;
  }
  // Three floats [3] then an int32 scalar, split over two shards mid-tensor.
  void write_model(const std::string& topology = R"({"node":[{"name":"x","op":"Placeholder"}]})") {
    write("model.json", R"({"modelTopology":)" + topology + R"(,"weightsManifest":[{"paths":["s1","s2"],"weights":[
      {"name":"w","shape":[3],"dtype":"float32"},{"name":"n","shape":[],"dtype":"int32"}]}]})");
    const std::int32_t n = 128;
    const auto all = floats({1.5f, -2.0f, 3.25f}) + std::string(reinterpret_cast<const char*>(&n), 4);
    write("s1", all.substr(0, 6));
    write("s2", all.substr(6));
  }

  fs::path dir_;
};

TEST_F(TfjsWeightsTest, ConcatenatesTheShardsInManifestOrder) {
  write_model();
  auto w = TfjsWeights::load(dir_);
  ASSERT_TRUE(w) << w.error().message;
  auto p = w->floats("w", {3});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p.value()[0], 1.5f);
  EXPECT_EQ(p.value()[1], -2.0f);
  EXPECT_EQ(p.value()[2], 3.25f);
  auto n = w->int_scalar("n");
  ASSERT_TRUE(n);
  EXPECT_EQ(n.value(), 128);
}

TEST_F(TfjsWeightsTest, ChecksShapesAndNames) {
  write_model();
  auto w = TfjsWeights::load(dir_);
  ASSERT_TRUE(w);
  auto wrong = w->floats("w", {1, 3});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().message, "model.json: w has shape [3], expected [1,3]");
  EXPECT_FALSE(w->floats("nope", {3}));
  EXPECT_FALSE(w->floats("n", {}));  // an int32 tensor is not a float one
}

TEST_F(TfjsWeightsTest, FingerprintsTheGraphWithoutItsConstants) {
  write_model(R"({"node":[{"name":"x","op":"Placeholder"},{"name":"c","op":"Const"}]})");
  auto a = TfjsWeights::load(dir_);
  write_model(R"({"node":[{"name":"x","op":"Placeholder"}]})");
  auto b = TfjsWeights::load(dir_);
  write_model(R"({"node":[{"name":"x","op":"Tanh"}]})");
  auto c = TfjsWeights::load(dir_);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->graph_fingerprint(), b->graph_fingerprint());
  EXPECT_NE(b->graph_fingerprint(), c->graph_fingerprint());
}

TEST_F(TfjsWeightsTest, ShardsShorterOrLongerThanTheManifestAreErrors) {
  write_model();
  write("s2", "xx");
  auto short_ = TfjsWeights::load(dir_);
  ASSERT_FALSE(short_);
  EXPECT_NE(short_.error().message.find("fewer than the manifest needs"), std::string::npos) << short_.error().message;
  write_model();
  write("s2", std::string(20, 'x'));
  auto long_ = TfjsWeights::load(dir_);
  ASSERT_FALSE(long_);
  EXPECT_NE(long_.error().message.find("the manifest describes 16"), std::string::npos) << long_.error().message;
}

TEST_F(TfjsWeightsTest, MissingFilesAreNamed) {
  auto none = TfjsWeights::load(dir_);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message, (dir_ / "model.json").string() + ": no such file");
  write_model();
  fs::remove(dir_ / "s2");
  auto shard = TfjsWeights::load(dir_);
  ASSERT_FALSE(shard);
  EXPECT_EQ(shard.error().message, (dir_ / "s2").string() + ": no such file");
}

TEST_F(TfjsWeightsTest, RefusesShardPathsOutsideTheDirectory) {
  write("model.json", R"({"weightsManifest":[{"paths":["../etc/passwd"],"weights":[]}]})");
  auto w = TfjsWeights::load(dir_);
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message.find("leaves the directory"), std::string::npos);
}

TEST_F(TfjsWeightsTest, RefusesOtherDtypesAndQuantisedWeights) {
  write("model.json", R"({"weightsManifest":[{"paths":[],"weights":[{"name":"s","shape":[],"dtype":"string"}]}]})");
  EXPECT_FALSE(TfjsWeights::load(dir_));
  write("model.json", R"({"weightsManifest":[{"paths":[],"weights":[{"name":"q","shape":[1],"dtype":"float32",
    "quantization":{"dtype":"uint8"}}]}]})");
  EXPECT_FALSE(TfjsWeights::load(dir_));
  write("model.json", "not json");
  EXPECT_FALSE(TfjsWeights::load(dir_));
}

}  // namespace
}  // namespace sluice::embed
