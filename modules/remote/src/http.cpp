// The transport-independent part of http.hpp (every transport and decorator links it).
#include <cctype>

#include "cvgen/core/worker_pool.hpp"
#include "cvgen/remote/http.hpp"

namespace cvgen {
namespace remote {

std::string toLowerAscii(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

const std::string* HttpResponse::header(const std::string& name) const {
    const std::string want = toLowerAscii(name);
    for (const auto& [k, v] : headers)
        if (k == want) return &v;
    return nullptr;
}

void HttpTransport::sendAsync(HttpRequest request, HttpDone done) {
    WorkerPool::blocking().post(
        [this, request = std::move(request), done = std::move(done)] { done(send(request)); });
}

}  // namespace remote
}  // namespace cvgen
