// RESP2 encoding of commands, and the incremental reply parser over
// hiredis's redisReader (see resp.hpp).
#include "resp.hpp"

#include <algorithm>
#include <charconv>
#include <memory>
#include <new>
#include <stdexcept>

#include <hiredis/read.h>

namespace sluice::redis {

namespace {

void append_number(std::string& out, char prefix, std::size_t n) {
  char digits[24];
  digits[0] = prefix;
  const auto end = std::to_chars(digits + 1, digits + sizeof digits, n).ptr;
  out.append(digits, end);
  out.append("\r\n", 2);
}

// The command's bytes are written here rather than with hiredis's
// redisFormatCommandArgv: it needs two arrays of pointers and lengths, and
// hands back a malloc'd copy to append and free, for every command.
template <class Args>
void append_args(std::string& out, const Args& args) {
  if (args.size() == 0) throw std::invalid_argument("a Redis command needs at least its name");
  std::size_t size = 16;
  for (const auto& arg : args) size += arg.size() + 16;
  out.reserve(out.size() + size);
  append_number(out, '*', args.size());
  for (const auto& arg : args) {
    append_number(out, '$', arg.size());
    out.append(arg.data(), arg.size());
    out.append("\r\n", 2);
  }
}

}  // namespace

void append_command(std::string& out, std::span<const std::string_view> args) { append_args(out, args); }
void append_command(std::string& out, std::span<const std::string> args) { append_args(out, args); }
void append_command(std::string& out, std::initializer_list<std::string_view> args) { append_args(out, args); }

// hiredis's object functions: each builds one Reply. An element goes straight
// into its parent array, which hiredis built first and keeps as the parent
// task's obj; only the root is allocated on its own (and given to next(), or
// freed by hiredis through free_object on an error). Pointers to elements stay
// valid while hiredis uses them: an array's elements are all built before the
// next element of its parent.
struct ReplyBuilder {
  static ReplyReader& owner(const redisReadTask* task) { return *static_cast<ReplyReader*>(task->privdata); }

  static void* place(const redisReadTask* task, Reply value) {
    owner(task).built_bytes_ += sizeof(Reply);
    if (task->parent != nullptr) {
      auto& elements = static_cast<Reply*>(task->parent->obj)->elements();
      elements.push_back(std::move(value));
      return &elements.back();
    }
    return new (std::nothrow) Reply(std::move(value));
  }

  static void* create_string(const redisReadTask* task, char* text, std::size_t size) {
    owner(task).built_bytes_ += size;
    std::string value(text, size);
    switch (task->type) {
      case REDIS_REPLY_ERROR: return place(task, Reply::error(std::move(value)));
      case REDIS_REPLY_STATUS: return place(task, Reply::status(std::move(value)));
      default: return place(task, Reply::string(std::move(value)));
    }
  }

  static void* create_array(const redisReadTask* task, int elements) {
    Reply array = Reply::array({});
    // The count comes from the peer: reserve a little, grow as elements come.
    array.elements().reserve(static_cast<std::size_t>(std::clamp(elements, 0, 1024)));
    return place(task, std::move(array));
  }

  static void* create_integer(const redisReadTask* task, long long value) {
    return place(task, Reply::integer(value));
  }

  static void* create_nil(const redisReadTask* task) { return place(task, Reply()); }

  static void free_object(void* root) { delete static_cast<Reply*>(root); }
};

namespace {

redisReplyObjectFunctions kFunctions = {ReplyBuilder::create_string, ReplyBuilder::create_array,
                                        ReplyBuilder::create_integer, ReplyBuilder::create_nil,
                                        ReplyBuilder::free_object};

}  // namespace

ReplyReader::ReplyReader(std::size_t max_reply_bytes)
    : reader_(redisReaderCreateWithFunctions(&kFunctions)), max_bytes_(max_reply_bytes) {
  if (reader_ == nullptr) throw std::bad_alloc();
  reader_->privdata = this;
}

ReplyReader::~ReplyReader() { redisReaderFree(reader_); }

void ReplyReader::feed(const char* data, std::size_t size) {
  if (redisReaderFeed(reader_, data, size) != REDIS_OK) failed_ = true;
}

std::size_t ReplyReader::held_bytes() const noexcept { return built_bytes_ + (reader_->len - reader_->pos); }

Error ReplyReader::failure(std::string what) {
  failed_ = true;
  Error e = make_error(errc::redis_unavailable, "Redis sent an invalid reply");
  e.detail = std::move(what);
  return e;
}

Result<std::optional<Reply>> ReplyReader::next() {
  if (failed_ && reader_->err == 0) return failure("the reply parser failed earlier");
  void* object = nullptr;
  if (redisReaderGetReply(reader_, &object) != REDIS_OK)
    return failure(std::string("malformed reply: ") + reader_->errstr);
  const auto too_large = [&] {
    return failure("a reply larger than " + std::to_string(max_bytes_) + " bytes (redis.max_reply_bytes)");
  };
  if (object == nullptr) {
    if (held_bytes() > max_bytes_) return too_large();
    return std::optional<Reply>();
  }
  std::unique_ptr<Reply> reply(static_cast<Reply*>(object));
  const std::size_t built = built_bytes_;
  built_bytes_ = 0;
  if (built > max_bytes_) return too_large();
  return std::optional<Reply>(std::move(*reply));
}

}  // namespace sluice::redis
