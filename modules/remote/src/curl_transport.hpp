// Internal: the libcurl transport on a given event loop (the task client shares its loop with
// its transport, so timers and transfers have one owner).
#ifndef CVGEN_REMOTE_CURL_TRANSPORT_HPP
#define CVGEN_REMOTE_CURL_TRANSPORT_HPP

#include <memory>

#include "cvgen/remote/http.hpp"
#include "event_loop.hpp"

namespace cvgen {
namespace remote {

/** The loop parameters a transport with these options wants. */
EventLoop::Params loopParamsFor(const CurlTransportParams& params);

/** A libcurl transport whose transfers run on `loop`. */
cv::Ptr<HttpTransport> createCurlTransportOn(std::shared_ptr<EventLoop> loop,
                                             const CurlTransportParams& params);

}  // namespace remote
}  // namespace cvgen

#endif  // CVGEN_REMOTE_CURL_TRANSPORT_HPP
