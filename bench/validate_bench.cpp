// sluice_validate_bench: what checking upstream output for JSON costs.
//
// Two figures, each the median (min, max) over repetitions, in ns:
//   - is_json_object() per call on answer bodies of several sizes (recorded
//     fixtures and synthetic answers), i.e. the check OpenAiProvider::complete
//     adds to every non-streamed answer;
//   - the OpenAI chunk stream's work per relayed event, over a stream of
//     recorded chunk events fed in 16 KiB pieces (what an upstream read
//     delivers), i.e. framing, the filters, the usage chunk and, since the
//     validation, the JSON check of every event's data.
// Build the same file at an older commit with -DSLUICE_BENCH_NO_VALIDATION
// (no is_json_object there) for the "before" stream figure.
// See docs/benchmarks.md, "Validating upstream output".
//
//   sluice_validate_bench [--reps R] [--events N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "../src/providers/openai.hpp"
#include "../src/providers/openai_stream.hpp"
#include "sluice/net/sse.hpp"

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(SLUICE_SOURCE_DIR) + "/tests/fixtures/providers/" + name, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read fixture %s\n", name.c_str());
    std::exit(2);
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A chat answer whose content makes the whole body about `size` bytes.
std::string chat_answer(std::size_t size) {
  const std::string head =
      R"({"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion","created":1741570283,)"
      R"("model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":")";
  const std::string tail =
      R"(","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1117,)"
      R"("completion_tokens":46,"total_tokens":1163},"service_tier":"default","system_fingerprint":"fp_fc9f1d7035"})";
  std::string text;
  static constexpr std::string_view kWords = "The river \\\"Sluice\\\" gates open at dawn; 42 boats pass.\\n ";
  while (head.size() + text.size() + tail.size() < size) text += kWords;
  return head + text + tail;
}

// A float embeddings answer with `dims` numbers.
std::string embeddings_answer(int dims) {
  std::string out = R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[)";
  for (int i = 0; i < dims; ++i) {
    if (i) out += ',';
    out += std::to_string(-0.0123456789 + i * 1e-5);
  }
  out += R"(]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":5,"total_tokens":5}})";
  return out;
}

struct Stats {
  double median, min, max;
};

Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

// A BodyReader handing out fixed pieces of one text.
class PieceBody final : public sluice::net::BodyReader {
 public:
  PieceBody(const std::string& text, std::size_t piece) : text_(text), piece_(piece) {}
  asio::awaitable<sluice::Result<std::string_view>> read_some() override {
    const std::string_view rest = std::string_view(text_).substr(std::min(pos_, text_.size()));
    const std::string_view out = rest.substr(0, piece_);
    pos_ += out.size();
    co_return out;
  }

 private:
  const std::string& text_;
  std::size_t piece_;
  std::size_t pos_ = 0;
};

asio::awaitable<void> drain(sluice::ChunkStream& stream, std::size_t& bytes, bool& failed) {
  for (;;) {
    auto piece = co_await stream.next();
    if (!piece) {
      failed = true;
      co_return;
    }
    if (piece->empty()) co_return;
    bytes += piece->size();
  }
}

// ns per event to relay `upstream` (`events` events) once.
double relay_ns_per_event(const std::string& upstream, std::size_t events) {
  asio::io_context io;
  auto stream = sluice::providers::make_openai_chunk_stream(std::make_unique<PieceBody>(upstream, 16 << 10), "bench",
                                                           {.strip_usage = true});
  std::size_t bytes = 0;
  bool failed = false;
  const auto t0 = Clock::now();
  asio::co_spawn(io, drain(*stream, bytes, failed), asio::detached);
  io.run();
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
  if (failed || bytes == 0) {
    std::fprintf(stderr, "the stream failed\n");
    std::exit(1);
  }
  return ns / static_cast<double>(events);
}

// The events of an SSE text.
std::vector<std::string> frame(const std::string& text) {
  std::vector<std::string> out;
  sluice::net::SseFramer framer;
  if (!framer.feed(text, [&](std::string_view e) { out.emplace_back(e); })) std::exit(2);
  return out;
}

template <class F>
double ns_per_call(std::size_t calls, F&& f) {
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < calls; ++i) f();
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / static_cast<double>(calls);
}

void print(const char* what, std::size_t bytes, const Stats& s) {
  std::fprintf(stderr, "%-34s %7zu B  %9.1f ns  (min %.1f, max %.1f)\n", what, bytes, s.median, s.min, s.max);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 9;
  std::size_t events = 20000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--events")) events = std::strtoul(argv[i + 1], nullptr, 10);
  }

  // A long stream of recorded chat chunks: role, content chunks over and over,
  // finish, usage, [DONE].
  const std::vector<std::string> recorded = frame(read_fixture("openai/chat.stream.txt"));  // 13 events
  std::string upstream = recorded[0];
  for (std::size_t i = 0; i < events; ++i) upstream += recorded[1 + i % 9];
  upstream += recorded[10] + recorded[11] + recorded[12];
  const std::size_t total_events = events + 4;

#ifndef SLUICE_BENCH_NO_VALIDATION
  struct Body {
    const char* name;
    std::string text;
  };
  const std::vector<Body> bodies = {
      {"chat.response.json (fixture)", read_fixture("openai/chat.response.json")},
      {"chat answer ~1 KiB", chat_answer(1024)},
      {"chat answer ~4 KiB", chat_answer(4096)},
      {"chat answer ~64 KiB", chat_answer(64 << 10)},
      {"embeddings 1536 floats", embeddings_answer(1536)},
      {"stream chunk data (fixture)", sluice::net::sse_data(recorded[5])},
  };
  std::fprintf(stderr, "is_json_object() per call, median of %d repetitions:\n", reps);
  for (const Body& b : bodies) {
    if (!sluice::providers::is_json_object(b.text)) {
      std::fprintf(stderr, "%s: not a JSON object\n", b.name);
      return 1;
    }
    const std::size_t calls = std::max<std::size_t>(2000, (64u << 20) / b.text.size());
    std::vector<double> v;
    for (int r = 0; r < reps; ++r)
      v.push_back(ns_per_call(calls, [&] {
        if (!sluice::providers::is_json_object(b.text)) std::abort();
      }));
    print(b.name, b.text.size(), stats(v));
  }
  // What on_event now does per event before its byte checks.
  {
    const std::string& event = recorded[5];
    std::vector<double> v;
    for (int r = 0; r < reps; ++r)
      v.push_back(ns_per_call(200000, [&] {
        if (!sluice::providers::is_json_object(sluice::net::sse_data(event))) std::abort();
      }));
    print("sse_data + is_json_object (event)", event.size(), stats(v));
  }
#endif

  std::vector<double> v;
  for (int r = 0; r < reps; ++r) v.push_back(relay_ns_per_event(upstream, total_events));
  std::fprintf(stderr, "chunk stream relay, %zu events (%zu B), 16 KiB pieces, strip_usage:\n", total_events,
               upstream.size());
  print("per event", upstream.size() / total_events, stats(v));
  return 0;
}
