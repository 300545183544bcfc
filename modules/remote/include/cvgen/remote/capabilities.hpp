#ifndef CVGEN_REMOTE_CAPABILITIES_HPP
#define CVGEN_REMOTE_CAPABILITIES_HPP

/** @file
 * @brief What each endpoint accepts as an input image and what each model can do, as data.
 *
 * One table (src/capabilities.cpp), one row per endpoint and per model, each citing its row in
 * the project's CAPABILITIES.md and the official page behind it. The client checks every request
 * against it before any network call, and the emulator's strict mode enforces the same table
 * server-side from a request's JSON fields: both go through checkFeatures() over a plain
 * RequestFeatures, so neither needs the other's types.
 */

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cvgen/core/image_limits.hpp"
#include "cvgen/core/provider.hpp"
#include "cvgen/core/status.hpp"
#include "cvgen/remote/profile.hpp"

namespace cvgen {
namespace remote {

/** @brief The endpoint an operation creates its task at. */
Endpoint toEndpoint(Operation op) noexcept;

/** @brief The input image rules of one endpoint, as its API documents them. */
struct EndpointRules {
    Endpoint endpoint = Endpoint::EXPAND;
    const char* api = "";  ///< whose documentation: "Kling" or "Ideogram"
    ImageLimits input;     ///< formats, bytes, sides and aspect of every input image
    /** @brief The result is mapped back onto the input (expand, upscale): an input breaking the
     * side or aspect rule is refused, never padded, cropped or enlarged. Too many bytes or
     * pixels are still fixed by scaling down, which keeps every ratio. */
    bool keepsGeometry = false;
    /** @brief Largest output/input scale the endpoint produces; 0 = not a scaling endpoint.
     * Ideogram's upscale is "up to 2x" and takes no factor. */
    double maxUpscale = 0;
    const char* source = "";  ///< the CAPABILITIES.md section and official page
};

/** @brief The built-in rules of an endpoint (Kling's for expand/generate/omni, Ideogram's for
 * upscale: every built-in relay passes requests through to those APIs unchanged). */
const EndpointRules& endpointRules(Endpoint e);

/** @brief The rules at a provider: the built-in ones with the profile's own input limits (a
 * relay that documents different ones) in place of the table's. */
EndpointRules endpointRules(const Profile& profile, Endpoint e);

/** @brief What one model accepts. Lists are exhaustive: a value not listed is refused. */
struct ModelCaps {
    const char* name = "";
    Endpoint endpoint = Endpoint::GENERATE;  ///< GENERATE or OMNI
    /** @brief In the provider's current model list. False = legacy: dropped from the current
     * list without an announced removal; still accepted, worth a warning. */
    bool current = true;
    bool textToImage = true;     ///< a request without any reference image
    bool referenceImage = true;  ///< generate: `image`; omni: `image_list`
    int maxImages = 1;           ///< reference images of one request (generate: the one `image`)
    /** @brief Sum of reference images and elements ("shall not exceed 10"). */
    int maxReferences = 10;
    std::vector<ImageReference> imageReferences;  ///< `image_reference` values; empty = refused
    bool imageReferenceRequired = false;          ///< with an image, `image_reference` is required
    bool fidelity = false;                        ///< `image_fidelity` and `human_fidelity`
    bool negativePrompt = false;  ///< the field exists (text-to-image only, never with an image)
    /** @brief `resolution` values; empty = the output keeps the input's size and the field is
     * not sent. */
    std::vector<Resolution> resolutions;
    /** @brief `resolution` values with a reference image (a subset of `resolutions`). */
    std::vector<Resolution> resolutionsWithImage;
    /** @brief `aspect_ratio` values (AUTO where accepted); empty = the field is not sent. */
    std::vector<AspectRatio> aspectRatios;
    bool autoAspectTextToImage = false;  ///< AUTO also without reference images
    /** @brief Sent when the caller sets no ratio: with reference images (AUTO where listed),
     * and without. */
    AspectRatio defaultAspectWithImage = AspectRatio::R16_9;
    AspectRatio defaultAspectTextToImage = AspectRatio::R16_9;
    int maxN = 9;
    bool series = false;            ///< `result_type: series`
    bool seriesAmountAuto = false;  ///< `series_amount: "auto"`
    int minSeriesAmount = 2, maxSeriesAmount = 9;
    bool elementList = false;  ///< `element_list`
    const char* source = "";   ///< the CAPABILITIES.md rows this one is checked against

    bool allows(Resolution r, bool withImage) const;
    bool allows(AspectRatio a) const;
    bool allows(ImageReference r) const;
    /** @brief The ratio to send when the caller sets none. */
    AspectRatio defaultAspect(bool withImage) const {
        return withImage ? defaultAspectWithImage : defaultAspectTextToImage;
    }
};

/** @brief The model of an endpoint by its wire name; nullptr when unknown there. */
const ModelCaps* findModel(Endpoint e, std::string_view name);

/** @brief Every model of an endpoint, current ones first (empty for expand and upscale, which
 * have no model). */
std::vector<const ModelCaps*> models(Endpoint e);

/** @brief The model an endpoint uses when the request names none (generate: kling-v3,
 * omni: kling-image-o1); nullptr for expand and upscale. */
const ModelCaps* defaultModel(Endpoint e);

/** @brief What a request asks for, whatever its type: built from a typed request (client) or
 * from a JSON body's fields (emulator). An empty optional / false / 0 = the field is absent. */
struct RequestFeatures {
    Endpoint endpoint = Endpoint::GENERATE;
    std::string model;  ///< model_name; empty = absent (the endpoint's default applies)
    int images = 0;     ///< generate: 1 with `image`; omni: image_list entries
    int elements = 0;   ///< element_list entries
    bool negativePrompt = false;
    std::optional<ImageReference> imageReference;
    bool imageFidelity = false;
    bool humanFidelity = false;
    std::optional<Resolution> resolution;
    std::optional<AspectRatio> aspectRatio;
    std::optional<int> n;
    std::optional<OmniResultType> resultType;
    std::optional<int> seriesAmount;  ///< a count; unset for "auto"
    bool seriesAmountAuto = false;    ///< series_amount: "auto"
};

/** @brief One refused feature: the wire field and a message naming the field, the model and
 * the rule, e.g. {"image_fidelity", "image_fidelity: not supported by kling-v3 (only
 * kling-v2-1)"}. */
struct RuleViolation {
    std::string field;
    std::string message;
    /** @brief The real service ignores the field here rather than refusing the request (e.g.
     * human_fidelity without a subject reference, n with a series): the client refuses it as a
     * likely mistake, a server enforcing only what the service refuses does not. */
    bool ignoredUpstream = false;
};

/** @brief Whose rules: every rule of the table (the client, before any network call), or only
 * those the real service refuses (the emulator's strict mode: a field the service ignores is
 * let through). */
enum class RuleScope { CLIENT, UPSTREAM };

/** @brief The first rule of the table the request breaks; nullopt when the model can serve it.
 * Every model-specific rule is judged here, with messages naming the field and the model;
 * validate() (core) keeps what holds for every model (ranges, lengths, images). */
std::optional<RuleViolation> checkFeatures(const RequestFeatures& f,
                                           RuleScope scope = RuleScope::CLIENT);

/** @brief The features of a typed request, as the client will send it. */
RequestFeatures features(const GenerateRequest& r);
RequestFeatures features(const OmniRequest& r);
RequestFeatures features(const ExpandRequest& r);
RequestFeatures features(const UpscaleRequest& r);

/** @brief checkFeatures(features(r)) as a Status: INVALID_ARGUMENT with the violation's
 * message, or OK. */
Status checkCapabilities(const GenerateRequest& r);
Status checkCapabilities(const OmniRequest& r);
Status checkCapabilities(const ExpandRequest& r);
Status checkCapabilities(const UpscaleRequest& r);

}  // namespace remote
}  // namespace cvgen

#endif  // CVGEN_REMOTE_CAPABILITIES_HPP
