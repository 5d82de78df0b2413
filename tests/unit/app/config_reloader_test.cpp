// ConfigReloader on its own loop: requests made before a reload runs are one
// reload, a change of the file's content reloads it, the same content does
// not, and a file with problems leaves the configuration in use.
#include "sluice/app/config_reloader.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "sluice/app/app.hpp"

namespace sluice {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string yaml(const std::string& models) {
  return "server: { listen: \"127.0.0.1:0\" }\n"
         "logging: { access_log: false }\n"
         "providers: [{ name: mock, type: mock }]\n"
         "models:\n" + models;
}
const std::string kM = "  - { name: m, deployments: [{ provider: mock, model: m }] }\n";
const std::string kN = "  - { name: n, deployments: [{ provider: mock, model: n }] }\n";

// Stops the watch, then the App (bounded), as main does.
void stop(boost::asio::io_context& io, std::unique_ptr<ConfigReloader>& reloader, std::unique_ptr<App>& app) {
  reloader.reset();
  bool done = false;
  app->shutdown([&] { done = true; });
  for (int i = 0; i < 100 && !done; ++i) io.run_for(10ms);
  app.reset();
}

class Reloader : public ::testing::Test {
 protected:
  Reloader() {
    fs::create_directories(dir);
    write(yaml(kM));
    auto loaded = load_config_file(path);
    app = std::make_unique<App>(io, std::move(*loaded.config));
    app->start();
    reloader = std::make_unique<ConfigReloader>(io, *app, path);
    reloader->start(loaded.content_hash);
  }
  ~Reloader() override {
    stop(io, reloader, app);
    fs::remove_all(dir);
  }
  void write(const std::string& text) {
    const std::string tmp = path + ".tmp";
    std::ofstream(tmp) << text;
    fs::rename(tmp, path);
  }
  // Runs the loop until `done` or the deadline.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 3s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) io.run_for(20ms);
    return done();
  }

  std::string dir = (fs::temp_directory_path() / ("sluice-reloader-" + std::to_string(std::random_device{}()))).string();
  std::string path = dir + "/sluice.yaml";
  boost::asio::io_context io;
  std::unique_ptr<App> app;
  std::unique_ptr<ConfigReloader> reloader;
};

TEST_F(Reloader, RequestsBeforeTheReloadRunsAreOne) {
  reloader->request("sighup");
  reloader->request("sighup");
  reloader->request("sighup");
  io.poll();
  EXPECT_EQ(reloader->reloads(), 1u);
  reloader->request("sighup");  // after it ran: another
  io.poll();
  EXPECT_EQ(reloader->reloads(), 2u);
}

TEST_F(Reloader, AChangedFileIsReloadedTheSameContentIsNot) {
  write(yaml(kM + kN));
  ASSERT_TRUE(run_until([&] { return app->config().models.size() == 2; })) << "the rename over it was noticed";
  EXPECT_EQ(reloader->reloads(), 1u);
  write(yaml(kM + kN));  // rewritten unchanged
  io.run_for(2 * ConfigReloader::kQuiet + 100ms);
  EXPECT_EQ(reloader->reloads(), 1u);
}

TEST_F(Reloader, AFileWithProblemsLeavesTheConfigurationInUse) {
  write(yaml(kN) + "unknown_section: {}\n");
  ASSERT_TRUE(run_until([&] { return reloader->reloads() == 1; }));
  ASSERT_EQ(app->config().models.size(), 1u);
  EXPECT_EQ(app->config().models[0].name, "m");
}

// An App started from `path` on its own loop, and (after watch()) its reloader.
struct Started {
  explicit Started(const std::string& path) : path(path), loaded(load_config_file(path)) {
    app = std::make_unique<App>(io, std::move(*loaded.config));
    app->start();
  }
  ~Started() { stop(io, reloader, app); }
  void watch() {
    reloader = std::make_unique<ConfigReloader>(io, *app, path);
    reloader->start(loaded.content_hash);
  }
  // Runs the loop until the configuration in use has `n` models (3 s at most).
  bool models_become(std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    while (app->config().models.size() != n && std::chrono::steady_clock::now() < deadline) io.run_for(20ms);
    return app->config().models.size() == n;
  }

  std::string path;
  boost::asio::io_context io;
  ConfigLoadResult loaded;
  std::unique_ptr<App> app;
  std::unique_ptr<ConfigReloader> reloader;
};

// The file changed after it was loaded and before the watch began (the App
// takes a moment to start: WordNet, the embedder's weights): the watch saw
// no event, so start() compares the file with what was loaded. It once
// hashed the file anew, took the new content for the one running, and
// never reloaded it.
TEST(ReloaderStart, AChangeWhileTheAppStartedIsReloaded) {
  const fs::path dir = fs::temp_directory_path() / ("sluice-reloader-start-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  const std::string path = (dir / "sluice.yaml").string();
  std::ofstream(path) << yaml(kM);
  {
    Started started(path);
    std::ofstream(path, std::ios::trunc) << yaml(kM + kN);
    started.watch();
    EXPECT_TRUE(started.models_become(2));
    EXPECT_EQ(started.reloader->reloads(), 1u);
  }
  fs::remove_all(dir);
}

// A Kubernetes ConfigMap volume: sluice.yaml -> ..data/sluice.yaml, and
// ..data -> ..<timestamp>/, swapped by renaming a new symlink over ..data.
TEST(ReloaderConfigMap, ASymlinkSwapOfTheDataDirectoryIsNoticed) {
  const fs::path dir = fs::temp_directory_path() / ("sluice-configmap-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir / "..v1");
  std::ofstream(dir / "..v1" / "sluice.yaml") << yaml(kM);
  fs::create_directory_symlink("..v1", dir / "..data");
  fs::create_symlink("..data/sluice.yaml", dir / "sluice.yaml");
  {
    Started started((dir / "sluice.yaml").string());
    started.watch();
    fs::create_directories(dir / "..v2");
    std::ofstream(dir / "..v2" / "sluice.yaml") << yaml(kM + kN);
    fs::create_directory_symlink("..v2", dir / "..data_tmp");
    fs::rename(dir / "..data_tmp", dir / "..data");
    fs::remove_all(dir / "..v1");
    EXPECT_TRUE(started.models_become(2));
    EXPECT_EQ(started.reloader->reloads(), 1u);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sluice
