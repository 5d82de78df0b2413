// sluice: command line, configuration, signals, event loop.
//
// Exit codes: 0 clean exit (also after SIGTERM/SIGINT); 1 invalid
// configuration; 2 bad command line; 3 could not start (e.g. address in use).
#include <sys/resource.h>

#include <csignal>
#include <cstdlib>
#include <functional>
#include <optional>
#include <iostream>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "sluice/app/app.hpp"
#include "sluice/app/config_reloader.hpp"
#include "sluice/core/config.hpp"
#include "sluice/core/log.hpp"

#include <spdlog/spdlog.h>

namespace {

constexpr int kExitOk = 0, kExitConfig = 1, kExitUsage = 2, kExitStartup = 3;

constexpr const char* kUsage = R"(Usage: sluice [--config FILE] [--check-config] [--version] [--help]

An OpenAI-compatible LLM gateway.

Options:
  --config FILE     configuration file (default: $SLUICE_CONFIG, else config/sluice.yaml)
  --check-config    validate the configuration (and load the server.tls files), print any problems, and exit
  --version         print the version and exit
  --help            print this help and exit

Exit codes: 0 ok, 1 invalid configuration, 2 bad command line, 3 could not start.
Signals: SIGTERM/SIGINT drain and exit 0 (server.shutdown_grace); a second one exits at once.
         SIGHUP reloads the configuration file (checked first; a bad file leaves the running one in use)
         and re-reads the server.tls files; with server.reload_watch (default) a change of the file does too.
)";

struct Args {
  std::string config_path;
  bool check_only = false;
};

// Returns an exit code when the program should stop right away.
std::optional<int> parse_args(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return kExitOk;
    }
    if (arg == "--version") {
      std::cout << "sluice " << SLUICE_VERSION << "\n";
      return kExitOk;
    }
    if (arg == "--check-config") {
      args.check_only = true;
    } else if (arg == "--config" && i + 1 < argc) {
      args.config_path = argv[++i];
    } else if (arg.starts_with("--config=")) {
      args.config_path = arg.substr(9);
    } else {
      std::cerr << "sluice: unknown argument '" << arg << "'\n\n" << kUsage;
      return kExitUsage;
    }
  }
  if (args.config_path.empty()) {
    const char* env = std::getenv("SLUICE_CONFIG");
    args.config_path = env && *env ? env : "config/sluice.yaml";
  }
  return std::nullopt;
}

// Each client connection is a file descriptor, and the usual soft limit
// (1024) is far below server.max_connections: raise the soft limit to the
// hard one, which the operator (systemd LimitNOFILE, the container runtime)
// sets. Logged, and a warning when even the hard limit cannot hold
// max_connections plus the upstream, Redis and log descriptors.
void raise_fd_limit(int max_connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t before = limit.rlim_cur;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) limit.rlim_cur = before;
  }
  auto shown = [](rlim_t n) { return n == RLIM_INFINITY ? -1LL : static_cast<long long>(n); };  // -1: unlimited
  sluice::log::info("fd_limit", {{"soft_before", shown(before)}, {"soft", shown(limit.rlim_cur)},
                                 {"hard", shown(limit.rlim_max)}});
  // Room beyond the client connections: upstream pools, Redis, logs, listeners.
  constexpr rlim_t kReserve = 256;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < static_cast<rlim_t>(max_connections) + kReserve)
    sluice::log::warn("fd_limit_low",
                      {{"soft", shown(limit.rlim_cur)}, {"max_connections", max_connections},
                       {"detail", "server.max_connections cannot be reached; raise the hard limit (ulimit -Hn, "
                                  "LimitNOFILE=) or lower max_connections"}});
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (auto code = parse_args(argc, argv, args)) return *code;

  sluice::ConfigLoadResult loaded = sluice::load_config_file(args.config_path);
  if (loaded.config) loaded.problems = sluice::App::check_files(*loaded.config);
  if (!loaded.problems.empty()) {
    std::cerr << sluice::format_problems(args.config_path, loaded.problems);
    std::cerr << "sluice: " << loaded.problems.size() << " problem(s) in " << args.config_path << "; not starting\n";
    return kExitConfig;
  }
  if (args.check_only) {
    std::cout << args.config_path << ": configuration is valid\n";
    return kExitOk;
  }

  std::signal(SIGPIPE, SIG_IGN);
  sluice::log::init(loaded.config->logging);
  raise_fd_limit(loaded.config->server.max_connections);
  boost::asio::io_context io(1);
  // Installed before the App starts: a signal from now on waits for the loop
  // instead of taking its default action (SIGHUP's ends the process).
  boost::asio::signal_set stop_signals(io, SIGTERM, SIGINT);
  boost::asio::signal_set hup(io, SIGHUP);
  std::unique_ptr<sluice::App> app;
  try {
    app = std::make_unique<sluice::App>(io, std::move(*loaded.config));
    app->start();
  } catch (const std::exception& e) {
    sluice::log::error("startup_failed", {{"what", e.what()}});
    std::cerr << "sluice: cannot start: " << e.what() << "\n";
    return kExitStartup;
  }
  sluice::log::info("started", {{"version", SLUICE_VERSION}, {"config", args.config_path}, {"port", app->port()}});

  sluice::ConfigReloader reloader(io, *app, args.config_path);
  reloader.start(loaded.content_hash);
  std::function<void()> on_hup = [&] {
    hup.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      // Several SIGHUPs before the reload runs are one reload; one during
      // it is another after it.
      reloader.request("sighup");
      on_hup();
    });
  };
  on_hup();
  stop_signals.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec) return;
    sluice::log::info("signal", {{"signal", signo == SIGTERM ? "SIGTERM" : "SIGINT"}});
    reloader.stop();
    app->shutdown([&] {
      stop_signals.cancel();
      hup.cancel();
      io.stop();
    });
    stop_signals.async_wait([&](boost::system::error_code ec2, int) {
      if (ec2) return;
      sluice::log::warn("forced_exit", {});
      io.stop();
    });
  });
  io.run();
  sluice::log::info("stopped", {});
  sluice::log::flush();  // the access lines of the last second, before the flusher thread goes
  spdlog::shutdown();
  return kExitOk;
}
