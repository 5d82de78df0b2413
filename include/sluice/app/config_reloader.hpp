// ConfigReloader: when the daemon reloads its configuration file, and the
// file side of it (reading, validating, noticing a change).
//
// Two triggers. request() (SIGHUP) always reloads: the operator asked, and
// server.tls's certificate files may have changed while the configuration
// did not. With server.reload_watch (the default) a change of the file
// reloads too: inotify watches the file's directory, not the file, since
// editors and Kubernetes replace it by rename or by swapping a symlink
// (IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE, IN_DELETE, IN_ATTRIB), and the
// symlink's target directory, resolved again after every change. Events
// are debounced (kQuiet after the last one) and the reload happens only
// when the file's content hash differs from the last one read, so a
// `touch` or an unrelated file in the directory changes nothing.
//
// Each reload reads the file with the loader `sluice --check-config` uses,
// runs App::check_files, then App::reload; a problem anywhere is logged as
// config_reload_failed (file:line: key: message, never a secret) and
// counted, and the running configuration stays. Requests made while one
// is pending are coalesced into it; none is lost: a request that comes
// while a reload runs gets one more after it.
//
// Runs on the App's loop; not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "sluice/app/app.hpp"

namespace sluice {

class ConfigReloader {
 public:
  static constexpr std::chrono::milliseconds kQuiet{200};

  // `app` must outlive the reloader. `path` is the file the App was started
  // from.
  ConfigReloader(boost::asio::io_context& io, App& app, std::string path);
  ~ConfigReloader();
  ConfigReloader(const ConfigReloader&) = delete;
  ConfigReloader& operator=(const ConfigReloader&) = delete;

  // `loaded_hash`: ConfigLoadResult::content_hash of the configuration the
  // App runs. With server.reload_watch, starts watching the file, and
  // reloads it now if it holds something else already (it changed while
  // the App started). A directory that cannot be watched is logged
  // (config_watch_failed) and SIGHUP still works.
  void start(std::optional<std::size_t> loaded_hash);
  // Reloads soon (posted to the loop); several requests before it runs are
  // one reload. `trigger` names the cause in the log ("sighup").
  void request(std::string_view trigger);
  // Stops watching (shutdown); pending reloads are dropped.
  void stop();

  // Reloads that ran so far (each one logged), for tests.
  std::uint64_t reloads() const noexcept;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace sluice
