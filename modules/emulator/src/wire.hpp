// Internal: parsing and validating create requests of every dialect into tasks.
#ifndef CVGEN_EMULATOR_SRC_WIRE_HPP
#define CVGEN_EMULATOR_SRC_WIRE_HPP

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/core/provider.hpp"
#include "cvgen/emulator/server.hpp"
#include "cvgen/local/local_provider.hpp"
#include "tasks.hpp"

namespace cvgen::emulator::detail {

/** @brief `/v1` (Kling official) or `/kling/v1` (AnyAPI, CometAPI); AGGREGATOR_STRICT also
 * requires what AnyAPI marks required (`n` on expand and generation, `model_name`). */
enum class Dialect { KLING, AGGREGATOR, AGGREGATOR_STRICT };

/** @brief Fetches an image URL the emulator can serve itself; anything else is an error
 * (INVALID_ARGUMENT, already phrased for the client). */
using UrlFetcher = std::function<Result<std::vector<uint8_t>>(const std::string& url)>;

/** @brief A validated create: everything the task store needs except the account and base. */
struct ParsedCreate {
    std::string externalId;
    std::string callbackUrl;
    int slots = 1;
    bool watermark = false;
    bool watermarkGiven = false;
    std::string resultType;
    Renderer render;
};

/** @brief Parses and validates a JSON create body. Errors are INVALID_ARGUMENT whose provider
 * code is 1200 (not a JSON object) or 1201 (a field; the message starts with its name).
 * Input images are checked by the endpoint's rules of the client's table
 * (remote::endpointRules); with `strict`, the body's features also by the model's capabilities
 * (strict.hpp) before anything else. */
Result<ParsedCreate> parseCreate(TaskKind kind, Dialect dialect, const std::string& body,
                                 const UrlFetcher& fetch,
                                 const cv::Ptr<local::LocalProvider>& engine, RenderMode mode,
                                 bool strict);

/** @brief A validated upscale (multipart `image_request` JSON + `image_file` bytes). */
struct ParsedUpscale {
    UpscaleRequest request;  ///< image decoded into request.image.mat
    int64_t seed = -1;       ///< echoed; -1 when not given
};

/** @brief Parses the upscale parts; errors as parseCreate() (field names of Ideogram). */
Result<ParsedUpscale> parseUpscale(const std::string* imageRequest, const std::string* imageFile,
                                   double factor, bool strict);

/** @brief The renderer of an upscale: the offline engine, or (FAST) images of the size the engine
 * would make. */
Renderer upscaleRenderer(const cv::Ptr<local::LocalProvider>& engine, const UpscaleRequest& request,
                         RenderMode mode);

}  // namespace cvgen::emulator::detail

#endif  // CVGEN_EMULATOR_SRC_WIRE_HPP
