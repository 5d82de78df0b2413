// The `queue` config section: the overflow queue's backend, how long a
// request may wait, its bound, and how long async results are kept
// (QueueConfig).
#include "config_sections.hpp"

namespace sluice::config_reader {

void read_queue(Reader& r, const Slot& at, QueueConfig& c) {
  r.mapping(at, {
      {"backend",
       [&](const Slot& s) {
         // redis needs the redis section: checked with the whole file (config_load.cpp).
         r.choice(s, Choices<QueueBackend>{{"memory", QueueBackend::memory}, {"redis", QueueBackend::redis}},
                  c.backend);
       }},
      {"max_wait", [&](const Slot& s) { r.duration(s, Millis{0}, kHour, c.max_wait); }},
      {"max_length", [&](const Slot& s) { r.integer(s, 1, 10'000'000, c.max_length); }},
      {"result_ttl", [&](const Slot& s) { r.duration(s, Millis{1'000}, 7 * 24 * kHour, c.result_ttl); }},
      {"keepalive_interval", [&](const Slot& s) { r.duration(s, Millis{100}, kMinute, c.keepalive_interval); }},
      {"reclaim_after", [&](const Slot& s) { r.duration(s, Millis{1'000}, kHour, c.reclaim_after); }},
  });
}

}  // namespace sluice::config_reader
