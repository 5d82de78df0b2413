// Reply: construction, checked access, and the redis-cli-like rendering.
#include "sluice/redis/reply.hpp"

#include <stdexcept>

namespace sluice::redis {

namespace {

[[noreturn]] void wrong_type(Reply::Type wanted, Reply::Type actual) {
  throw std::logic_error("Redis reply is " + std::string(to_string(actual)) + ", not " +
                         std::string(to_string(wanted)));
}

}  // namespace

std::string_view to_string(Reply::Type type) noexcept {
  switch (type) {
    case Reply::Type::nil: return "nil";
    case Reply::Type::integer: return "an integer";
    case Reply::Type::string: return "a bulk string";
    case Reply::Type::status: return "a status";
    case Reply::Type::error: return "an error";
    case Reply::Type::array: return "an array";
  }
  return "unknown";
}

Reply Reply::integer(std::int64_t value) {
  Reply r;
  r.type_ = Type::integer;
  r.integer_ = value;
  return r;
}

Reply Reply::string(std::string bulk) {
  Reply r;
  r.type_ = Type::string;
  r.text_ = std::move(bulk);
  return r;
}

Reply Reply::status(std::string text) {
  Reply r = string(std::move(text));
  r.type_ = Type::status;
  return r;
}

Reply Reply::error(std::string text) {
  Reply r = string(std::move(text));
  r.type_ = Type::error;
  return r;
}

Reply Reply::array(std::vector<Reply> elements) {
  Reply r;
  r.type_ = Type::array;
  r.elements_ = std::move(elements);
  return r;
}

std::int64_t Reply::as_integer() const {
  if (type_ != Type::integer) wrong_type(Type::integer, type_);
  return integer_;
}

const std::string& Reply::as_string() const {
  if (type_ != Type::string && type_ != Type::status && type_ != Type::error) wrong_type(Type::string, type_);
  return text_;
}

std::string Reply::take_string() {
  as_string();
  return std::move(text_);
}

const std::vector<Reply>& Reply::elements() const {
  if (type_ != Type::array) wrong_type(Type::array, type_);
  return elements_;
}

std::vector<Reply>& Reply::elements() {
  if (type_ != Type::array) wrong_type(Type::array, type_);
  return elements_;
}

std::string Reply::to_string() const {
  switch (type_) {
    case Type::nil: return "(nil)";
    case Type::integer: return "(integer) " + std::to_string(integer_);
    case Type::string: return "\"" + text_ + "\"";
    case Type::status: return text_;
    case Type::error: return "(error) " + text_;
    case Type::array: {
      std::string out = "[";
      for (std::size_t i = 0; i < elements_.size(); ++i) {
        if (i > 0) out += ", ";
        out += elements_[i].to_string();
      }
      return out + "]";
    }
  }
  return {};
}

}  // namespace sluice::redis
