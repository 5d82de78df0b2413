// x-request-id: keep the client's when it is a safe token, else make one.
#pragma once

#include <string>
#include <string_view>

namespace sluice::server {

// 1..128 characters of [A-Za-z0-9._:/+=-]: safe to echo in a header and a log.
bool is_valid_request_id(std::string_view id) noexcept;

// 32 random hex characters.
std::string new_request_id();

}  // namespace sluice::server
