// Dialect request encoding (canonical fields renamed by the profile, images conformed to the
// endpoint's rules and passed through byte-identical when compliant) and answer parsing.
#ifndef CVGEN_REMOTE_DIALECT_HPP
#define CVGEN_REMOTE_DIALECT_HPP

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/core/provider.hpp"
#include "cvgen/core/status.hpp"
#include "cvgen/remote/capabilities.hpp"
#include "cvgen/remote/http.hpp"
#include "cvgen/remote/profile.hpp"
#include "cvgen/remote/task.hpp"

namespace cvgen {
namespace remote {
namespace detail {

/** An image ready for the wire, and whether its bytes are the caller's own. */
struct EncodedImage {
    std::vector<uint8_t> bytes;
    std::string mime;
    bool passedThrough = false;  ///< the caller's bytes, unchanged
};

/** Conforms an image to an endpoint's rules at a provider (core's preflight; the geometry is
 * kept where `rules.keepsGeometry`); INVALID_ARGUMENT names `field` and the rule. */
Result<EncodedImage> encodeImage(const ImageSource& src, const char* field,
                                 const EndpointRules& rules);

/** The JSON create bodies of each operation in the profile's dialect. */
Result<std::string> expandBody(const Profile& p, const ExpandRequest& r, const std::string& ext);
Result<std::string> generateBody(const Profile& p, const GenerateRequest& r,
                                 const std::string& ext);
Result<std::string> omniBody(const Profile& p, const OmniRequest& r, const std::string& ext);
/** Ideogram's image_request part. */
std::string upscaleRequestJson(const UpscaleRequest& r);

/** The task in an envelope answer (`data` object, or the first of a `data` list). */
Result<TaskObject> parseEnvelopeTask(const HttpResponse& r, const std::string& route,
                                     std::string* requestId);
/** A create answer: an envelope, or Ideogram's synchronous {"created", "data": [...]}. */
Result<TaskObject> parseCreateAnswer(const HttpResponse& r, const std::string& route,
                                     std::string* requestId);

/** False for an empty body or a PNG/JPEG whose end marker is missing (a cut-off download). */
bool looksCompleteImage(const std::string& bytes);

/** Decodes a downloaded result with core's safe decoder (pixel budget checked before any pixel
 * is decoded): DATA_LOSS (retryable) for empty or truncated bytes, DATA_LOSS (not retryable)
 * for an undecodable or over-budget image. 8-bit BGR/BGRA out. */
Result<cv::Mat> decodeResultImage(const std::string& bytes, int64_t maxPixels);

}  // namespace detail
}  // namespace remote
}  // namespace cvgen

#endif  // CVGEN_REMOTE_DIALECT_HPP
