// Internal: the emulator's JSON answers — the Kling envelope, Ideogram's {"error"} body.
#ifndef CVGEN_EMULATOR_SRC_RESPONSES_HPP
#define CVGEN_EMULATOR_SRC_RESPONSES_HPP

#include <chrono>
#include <string>

#include <httplib.h>

#include "routes.hpp"

namespace cvgen::emulator::detail {

/** @brief The content type of every JSON answer. With a charset parameter httplib does not
 * compress the body: its brotli runs at quality 11 (~2 ms per small answer), which made the
 * emulator's CPU, not the client, bound loopback batches (bench_batch: brotli was half of all
 * CPU time). */
constexpr const char* kJson = "application/json; charset=utf-8";

/** @brief Sets a JSON body (of type kJson) and the status. */
void json(httplib::Response& res, int status, const std::string& body);

/** @brief An error answer: `{"error": message}` on Ideogram's own route (Family::IDEOGRAM), the
 * Kling envelope `{"code", "message", "request_id"}` (no data) everywhere else; a Retry-After
 * header when retryAfter >= 0. */
void envelopeError(httplib::Response& res, Family family, int status, int code,
                   const std::string& message, const std::string& requestId,
                   std::chrono::seconds retryAfter = std::chrono::seconds(-1));

/** @brief `{"code": 0, "message": "SUCCEED", "request_id", "data": dataJson}`, HTTP 200. */
void envelopeOk(httplib::Response& res, const std::string& dataJson, const std::string& requestId);

/** @brief Now as Ideogram writes `created`: "2025-01-01T12:00:00.000000+00:00". */
std::string isoNow();

}  // namespace cvgen::emulator::detail

#endif  // CVGEN_EMULATOR_SRC_RESPONSES_HPP
