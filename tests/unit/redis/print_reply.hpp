// How GoogleTest shows a Reply in a failure: as redis-cli would.
#pragma once

#include <ostream>

#include "sluice/redis/reply.hpp"

namespace sluice::redis {

inline void PrintTo(const Reply& r, std::ostream* os) { *os << r.to_string(); }

}  // namespace sluice::redis
