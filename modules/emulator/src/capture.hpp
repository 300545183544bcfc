// Internal: request capture for users' tests (`GET /_emulator/requests`). Each request is kept as
// a summary a test can assert on — method, path, route, query, headers, JSON or multipart fields —
// with every secret masked and every base64 payload cut to its length and a SHA-256.
#ifndef CVGEN_EMULATOR_SRC_CAPTURE_HPP
#define CVGEN_EMULATOR_SRC_CAPTURE_HPP

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include <httplib.h>

namespace cvgen::emulator::detail {

/** @brief Masks secrets in captured text.
 *
 * - a header, query parameter or JSON member whose name has `auth`, `key`, `secret`, `token`,
 *   `password`, `cookie`, `signature`, `session` or `credential` in it: its value becomes `***`
 *   (an `Authorization` keeps its scheme: `Bearer ***`);
 * - anywhere else: a JWT (`eyJ…`.`…`.`…`) becomes `***jwt***` and every configured key (API keys,
 *   access and secret key, webhook secret) becomes `***`. */
class SecretMasker {
public:
    explicit SecretMasker(std::vector<std::string> knownSecrets);
    static bool secretName(const std::string& name);
    /** @brief The value of a secret-named field: its scheme word kept, the rest masked. */
    static std::string maskSecretValue(const std::string& value);
    /** @brief JWTs and configured keys masked in free text. */
    std::string maskText(const std::string& text) const;

private:
    std::vector<std::string> known_;
};

/** @brief The summary of one request as a JSON object (see the class note of RequestLog). */
std::string captureRequest(const httplib::Request& req, const std::string& route, int status,
                           uint64_t seq, int64_t timeMs, const SecretMasker& masker);

/** @brief The last `capacity` captured requests, oldest first. Thread-safe. */
class RequestLog {
public:
    explicit RequestLog(size_t capacity) : capacity_(capacity) {}
    uint64_t nextSeq();
    void add(std::string entryJson);
    /** @brief `{"requests": [the last n, oldest first], "total": captured so far,
     * "capacity": N}`. */
    std::string lastJson(size_t n) const;
    /** @brief Forgets every entry; returns how many there were. */
    size_t clear();

private:
    size_t capacity_;
    mutable std::mutex mu_;
    std::deque<std::string> entries_;
    uint64_t seq_ = 0;
};

}  // namespace cvgen::emulator::detail

#endif  // CVGEN_EMULATOR_SRC_CAPTURE_HPP
