// RESP2, the Redis wire protocol, for the client: commands encoded, replies
// parsed incrementally into Reply values. Private to redis/.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "sluice/core/error.hpp"
#include "sluice/redis/reply.hpp"

struct redisReader;

namespace sluice::redis {

// Appends one command, an array of bulk strings (binary-safe), to `out`.
// Throws std::invalid_argument for an empty command: Redis answers nothing
// at all to one, which would leave the replies out of step.
void append_command(std::string& out, std::span<const std::string_view> args);
void append_command(std::string& out, std::span<const std::string> args);
void append_command(std::string& out, std::initializer_list<std::string_view> args);

// An incremental RESP2 reply parser: feed it bytes as they arrive, take whole
// replies out. hiredis's redisReader does the parsing, with object functions
// that build Reply values directly (no redisReply tree to copy, and no
// allocation sized by a count the peer sent).
//
// Bounded: a reply may hold at most `max_reply_bytes`, counted as its
// strings' bytes plus sizeof(Reply) an element, and while it is incomplete
// also the bytes buffered for it. Past that, or on a protocol error, next()
// fails and the reader is spent (the connection must be dropped: what
// follows can no longer be matched to commands).
class ReplyReader {
 public:
  explicit ReplyReader(std::size_t max_reply_bytes);
  ~ReplyReader();
  ReplyReader(const ReplyReader&) = delete;
  ReplyReader& operator=(const ReplyReader&) = delete;

  void feed(const char* data, std::size_t size);

  // The next whole reply; nullopt when more bytes are needed; an Error
  // (redis_unavailable, with what went wrong) for a malformed or oversized reply.
  Result<std::optional<Reply>> next();

  // Bytes held for the reply under way (for tests).
  std::size_t held_bytes() const noexcept;

 private:
  friend struct ReplyBuilder;
  Error failure(std::string what);

  redisReader* reader_;
  std::size_t max_bytes_;
  std::size_t built_bytes_ = 0;  // strings and elements built for the reply under way
  bool failed_ = false;
};

}  // namespace sluice::redis
