#include "sluice/app/config_reloader.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <vector>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "sluice/core/log.hpp"

namespace sluice {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

constexpr std::uint32_t kEvents = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ATTRIB;
constexpr std::streamsize kMaxConfigBytes = 16 << 20;  // far above any real configuration

// The content's hash, as ConfigLoadResult::content_hash has it; nullopt
// when the file cannot be read (in the middle of a swap, say: the next event
// tells when it is back) or is over the bound (then only SIGHUP reloads it).
std::optional<std::size_t> content_hash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  // A few KiB read, not 16 MiB zero-filled on every event in the directory.
  std::string text;
  std::array<char, 64 * 1024> chunk;
  while (in && text.size() <= static_cast<std::size_t>(kMaxConfigBytes)) {
    in.read(chunk.data(), chunk.size());
    text.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad() || text.size() > static_cast<std::size_t>(kMaxConfigBytes)) return std::nullopt;
  return std::hash<std::string_view>{}(text);
}

}  // namespace

struct ConfigReloader::State : std::enable_shared_from_this<State> {
  State(asio::io_context& io_context, App& a, std::string p)
      : io(io_context), app(a), path(std::move(p)), events(io_context), quiet(io_context) {}

  asio::io_context& io;
  App& app;
  std::string path;
  asio::posix::stream_descriptor events;  // the inotify descriptor, while watching
  asio::steady_timer quiet;
  alignas(inotify_event) std::array<char, 8192> buffer{};
  std::set<std::string> watched;  // directories
  std::set<std::string> names;    // entries whose change may change the file: its name, its target's
  std::optional<std::size_t> loaded_hash;
  bool posted = false;
  bool stopped = false;
  std::uint64_t reloads = 0;

  void run(const std::string& trigger) {
    posted = false;
    if (stopped) return;
    ++reloads;
    log::debug("config_reload", {{"config", path}, {"trigger", trigger}});
    ConfigLoadResult loaded = load_config_file(path);
    // The hash of the bytes loaded: the file read again for it, a write
    // between the two reads left the old content's hash, and the watch
    // reloaded the new content a second time.
    loaded_hash = loaded.content_hash;
    if (loaded.config) loaded.problems = App::check_files(*loaded.config);
    if (!loaded.problems.empty()) app.reload_failed(path, loaded.problems);
    else app.reload(std::move(*loaded.config));
    update_watch();
  }

  void request(std::string trigger) {
    if (stopped || posted) return;
    posted = true;
    asio::post(io, [self = shared_from_this(), trigger = std::move(trigger)] { self->run(trigger); });
  }

  // Watching follows server.reload_watch of the configuration in use, and
  // the symlink's target as it is now.
  void update_watch() {
    if (stopped) return;
    if (!app.config().server.reload_watch) {
      if (events.is_open()) {
        boost::system::error_code ec;
        events.close(ec);
        watched.clear();
        log::info("config_watch", {{"config", path}, {"watching", false}});
      }
      return;
    }
    if (!events.is_open()) {
      const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
      if (fd < 0) {
        log::warn("config_watch_failed", {{"config", path}, {"error", std::strerror(errno)},
                                          {"detail", "changes of the file are not noticed; SIGHUP reloads"}});
        return;
      }
      events.assign(fd);
      read_events();
    }
    std::error_code ec;
    const fs::path file = fs::absolute(path, ec);
    std::vector<fs::path> targets{file};
    const fs::path resolved = fs::canonical(file, ec);
    if (!ec) targets.push_back(resolved);
    const std::size_t before = watched.size();
    for (const fs::path& t : targets) {
      names.insert(t.filename().string());
      const std::string dir = t.parent_path().string();
      if (watched.count(dir)) continue;
      if (inotify_add_watch(events.native_handle(), dir.c_str(), kEvents) < 0) {
        log::warn("config_watch_failed", {{"config", path}, {"directory", dir}, {"error", std::strerror(errno)},
                                          {"detail", "changes of the file are not noticed; SIGHUP reloads"}});
        continue;
      }
      watched.insert(dir);
    }
    if (watched.size() != before)
      log::info("config_watch", {{"config", path}, {"watching", true},
                                 {"directories", static_cast<std::int64_t>(watched.size())}});
  }

  void read_events() {
    events.async_read_some(asio::buffer(buffer), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      if (ec || self->stopped) return;
      if (self->relevant(n)) {
        self->quiet.expires_after(kQuiet);
        self->quiet.async_wait([self](boost::system::error_code wait_ec) {
          if (!wait_ec) self->settled();
        });
      }
      self->read_events();
    });
  }

  // Whether the events in buffer[0, n) may have changed the file: its own
  // name, its target's, a Kubernetes ConfigMap's "..data" swap, or a lost
  // event (queue overflow).
  bool relevant(std::size_t n) const {
    bool any = false;
    for (std::size_t at = 0; at + sizeof(inotify_event) <= n;) {
      inotify_event e;
      std::memcpy(&e, buffer.data() + at, sizeof e);
      const std::string_view name = e.len ? std::string_view(buffer.data() + at + sizeof e) : std::string_view();
      if ((e.mask & IN_Q_OVERFLOW) || name.starts_with("..") || names.count(std::string(name))) any = true;
      at += sizeof e + e.len;
    }
    return any;
  }

  // Quiet for kQuiet since the last event: reload if the content changed.
  void settled() {
    if (stopped) return;
    const auto hash = content_hash(path);
    if (!hash || hash == loaded_hash) return;
    request("file_change");
  }

  void stop() {
    stopped = true;
    quiet.cancel();
    boost::system::error_code ec;
    events.close(ec);
  }
};

ConfigReloader::ConfigReloader(asio::io_context& io, App& app, std::string path)
    : state_(std::make_shared<State>(io, app, std::move(path))) {}

ConfigReloader::~ConfigReloader() { state_->stop(); }

void ConfigReloader::start(std::optional<std::size_t> loaded_hash) {
  state_->loaded_hash = loaded_hash;
  state_->update_watch();
  // Changed while the App started: reload now, the watch missed it.
  if (state_->events.is_open() && content_hash(state_->path) != loaded_hash) state_->request("file_change");
}

void ConfigReloader::request(std::string_view trigger) { state_->request(std::string(trigger)); }

void ConfigReloader::stop() { state_->stop(); }

std::uint64_t ConfigReloader::reloads() const noexcept { return state_->reloads; }

}  // namespace sluice
