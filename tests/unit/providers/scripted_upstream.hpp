// ScriptedUpstream: a loopback HTTP server on the test's io_context that
// answers each request, on a connection of its own, with the next scripted
// raw response and records what it received. For provider tests that need
// exact bytes on the wire (recorded streams, vendor error bodies) rather
// than FakeUpstream's OpenAI behaviour.
#pragma once

#include <cctype>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace sluice::test {

struct Seen {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// "HTTP/1.1 <status>" with the body and Connection: close; `extra_headers`
// are whole lines, each ending in CRLF.
inline std::string http_response(int status, std::string_view content_type, std::string_view body,
                                 std::string_view extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Error") +
         "\r\nContent-Type: " + std::string(content_type) + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n" + std::string(extra_headers) + "\r\n" + std::string(body);
}

// Serves until the io_context stops; an unscripted request gets a 500.
class ScriptedUpstream {
 public:
  using tcp = boost::asio::ip::tcp;

  explicit ScriptedUpstream(boost::asio::io_context& io)
      : acceptor_(io, tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0)) {
    boost::asio::co_spawn(io, serve(this), boost::asio::detached);
  }

  // "http://127.0.0.1:PORT" + path
  std::string base_url(std::string_view path = "") const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + std::string(path);
  }
  void answer(std::string raw_response) { responses_.push_back(std::move(raw_response)); }
  const std::vector<Seen>& seen() const { return seen_; }

 private:
  static boost::asio::awaitable<void> serve(ScriptedUpstream* self) {
    namespace http = boost::beast::http;
    constexpr auto tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
    for (;;) {
      auto [ec, socket] = co_await self->acceptor_.async_accept(tuple);
      if (ec) co_return;
      boost::beast::flat_buffer buffer;
      http::request<http::string_body> req;
      auto [read_ec, n] = co_await http::async_read(socket, buffer, req, tuple);
      if (read_ec) continue;
      Seen seen{std::string(req.method_string()), std::string(req.target()), {}, req.body()};
      for (const auto& field : req) {
        std::string name(field.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        seen.headers[name] = std::string(field.value());
      }
      self->seen_.push_back(std::move(seen));
      std::string response = http_response(500, "text/plain", "unscripted");
      if (!self->responses_.empty()) {
        response = std::move(self->responses_.front());
        self->responses_.pop_front();
      }
      co_await boost::asio::async_write(socket, boost::asio::buffer(response), tuple);
    }  // the socket closes here: one exchange per connection
  }

  tcp::acceptor acceptor_;
  std::deque<std::string> responses_;
  std::vector<Seen> seen_;
};

}  // namespace sluice::test
