#ifndef CVGEN_LOCAL_LOCAL_PROVIDER_HPP
#define CVGEN_LOCAL_LOCAL_PROVIDER_HPP

#include <cstdint>

#include <opencv2/core.hpp>

#include "cvgen/core/provider.hpp"
#include "cvgen/local/expand.hpp"

namespace cvgen::local {

/** @brief Largest per-side expansion ratio the offline engine accepts (its own rule). */
constexpr double kMaxLocalExpandRatio = 10000.0;

/** @brief Options of LocalProvider, fixed at creation (also spelled LocalProvider::Params). */
struct LocalProviderParams {
    ExpandMode mode = ExpandMode::BLUR;  ///< fill used by expand()
    bool sharpenUpscale = false;         ///< mild unsharp mask after Lanczos in upscale()
    uint64_t seed = 0;                   ///< base seed of generate()/omni(), seed of PATCH
    /** @brief false (default): the offline engine's own rule only (each ratio finite, in
     * [0, kMaxLocalExpandRatio]; canvas ≤ 65535 px a side, 2^29 px in area), and expandLimits()
     * says so, so planners reach a target in ONE pass, which looks better than chaining passes
     * (each pass would blur the previous fill again: nested frames). true: expand() enforces the
     * remote providers' limits (each ratio ≤ 2, area factor ≤ 3) and expandLimits() reports
     * them, so a request valid here is valid everywhere (to rehearse a remote plan offline). */
    bool enforceExpandLimits = false;
};

/** @brief The offline engine behind the common cvgen::Provider interface: the default provider.
 *
 * - expandLimits(): Kling's limits (ExpandLimits{}) with Params::enforceExpandLimits, otherwise
 *   the engine's own (side ratio kMaxLocalExpandRatio, area factor 1e9: effectively unlimited,
 *   the canvas size cap is what binds), so a planner makes one pass.
 * - expand(): decodes the image (a Mat, or encoded bytes through cvgen::decodeImage: unknown or
 *   oversized INVALID_ARGUMENT, truncated DATA_LOSS; URLs are INVALID_ARGUMENT), turns the ratios
 *   into margins with marginsFromRatios() and fills them with expandCanvas() in Params::mode. The
 *   original is untouched and the output is the input's type. The n results are identical (the
 *   fill is deterministic); the prompt is ignored. `synthetic` is false, and `note` says the fill
 * is a classical backdrop, not generated content.
 * - upscale(): upscaleImage() by the request's scale exactly, numImages identical results.
 * - generate() / omni(): synthesizeImage() at generationSize(aspect, resolution) (omni AUTO: the
 *   aspect of the first input image, or 1:1 without one); result i uses a seed derived from
 *   Params::seed and i, so the n results differ but are reproducible. `synthetic` is true and the
 *   note says no generative model ran. Omni SERIES gives seriesAmount images, SINGLE gives n.
 *
 * Every request is validate()d first (INVALID_ARGUMENT). A set CallOptions::cancel flag gives
 * CANCELLED. Task ids are "local-<k>" from a per-instance counter; externalTaskId is echoed.
 * Thread-safe: calls may run concurrently on one instance.
 */
class LocalProvider : public Provider {
public:
    /** @brief Engine options, fixed at creation (see LocalProviderParams). */
    using Params = LocalProviderParams;

    /** @brief Creates the engine. */
    static cv::Ptr<LocalProvider> create(const Params& params = Params());

    /** @brief The parameters it was created with. */
    virtual Params params() const = 0;
};

}  // namespace cvgen::local

#endif  // CVGEN_LOCAL_LOCAL_PROVIDER_HPP
