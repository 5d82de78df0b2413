// A workaround for Boost.Beast 1.81's chunked-body parser, shared by the
// server (request bodies) and the upstream client (response bodies).
#pragma once

#include <cstddef>

namespace sluice::net {

// Beast 1.81 asserts (basic_parser::parse_chunk_header: n >= 5) when it has
// seen a chunked body's last chunk ("0\r\n", held unconsumed until the
// body's final CRLF) and is offered it again with fewer than five bytes in
// all, as a peer that sends the end of its body in pieces makes it: a false
// assertion (boostorg/beast#2861, fixed in Boost 1.86) that aborts any build
// with assertions (Debug, the sanitizer and fuzz builds); Release parses it
// right. So after a put() that needed more, Beast is given this many bytes
// or more: fewer can never finish a body ("0\r\n\r\n" is five) and a chunk
// size line with its data and CRLF is longer.
inline constexpr std::size_t kMinChunkedPut = 5;

}  // namespace sluice::net
