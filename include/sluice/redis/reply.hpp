// Reply: one Redis reply (RESP2) as a plain value: nil, an integer, a bulk
// string, a status ("OK"), an error ("ERR ..."), or an array of replies.
// An error reply is a value like the others: it is what Redis answered, not
// a failure of the client (those are Errors, see client.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::redis {

class Reply {
 public:
  enum class Type : std::uint8_t { nil, integer, string, status, error, array };

  Reply() = default;  // nil
  static Reply integer(std::int64_t value);
  static Reply string(std::string bulk);
  static Reply status(std::string text);
  static Reply error(std::string text);
  static Reply array(std::vector<Reply> elements);

  Type type() const noexcept { return type_; }
  bool is_nil() const noexcept { return type_ == Type::nil; }
  bool is_integer() const noexcept { return type_ == Type::integer; }
  bool is_string() const noexcept { return type_ == Type::string; }  // a bulk string
  bool is_status() const noexcept { return type_ == Type::status; }
  bool is_error() const noexcept { return type_ == Type::error; }
  bool is_array() const noexcept { return type_ == Type::array; }

  // The value. Each throws std::logic_error, naming the type the reply has,
  // when it has another: check the type first where Redis may answer either.
  std::int64_t as_integer() const;
  const std::string& as_string() const;  // a bulk string, a status or an error's text
  std::string take_string();             // the same, moved out
  const std::vector<Reply>& elements() const;  // an array's elements
  std::vector<Reply>& elements();

  // An array's element count, 0 for any other type; operator[] is
  // elements().at(i) (throws std::out_of_range).
  std::size_t size() const noexcept { return elements_.size(); }
  const Reply& operator[](std::size_t i) const { return elements().at(i); }

  // As redis-cli shows it: (nil), (integer) 3, "bulk", OK, (error) ERR x,
  // [a, b]. For tests and debugging: it shows the data, so never log it.
  std::string to_string() const;

  friend bool operator==(const Reply&, const Reply&) = default;

 private:
  Type type_ = Type::nil;
  std::int64_t integer_ = 0;
  std::string text_;
  std::vector<Reply> elements_;
};

std::string_view to_string(Reply::Type type) noexcept;

}  // namespace sluice::redis
