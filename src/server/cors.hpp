// CORS (server.cors): what lets a web page on an allowed origin call the
// gateway from the browser. Pure functions over a request's headers and a
// Reply; Routes::handle answers preflights with them and adds the response
// headers to every other answer. Nothing here runs while CORS is off.
#pragma once

#include <string_view>

#include "reply.hpp"
#include "routes.hpp"
#include "sluice/core/config.hpp"

namespace sluice::server {

// A CORS preflight: OPTIONS with Origin and Access-Control-Request-Method.
bool is_preflight(std::string_view method, const HeaderLookup& header);

// The answer to a preflight: 204, and for an allowed origin
// Access-Control-Allow-Origin / -Methods / -Headers (those the browser asked
// for) / -Max-Age. Another origin gets the 204 without them, and the browser
// stops there. Always Vary on the request headers the answer depends on.
Reply preflight_reply(const CorsConfig& cors, const HeaderLookup& header);

// For a request from an allowed origin, adds Access-Control-Allow-Origin and
// Access-Control-Expose-Headers (the headers the SDKs read) to `reply`. With
// an origin list (not "*"), every answer gets Vary: Origin.
void add_cors_headers(const CorsConfig& cors, const HeaderLookup& header, Reply& reply);

}  // namespace sluice::server
