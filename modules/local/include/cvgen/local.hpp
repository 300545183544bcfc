#ifndef CVGEN_LOCAL_HPP
#define CVGEN_LOCAL_HPP

/** @file
 * @brief Umbrella header of cvgen::local, the offline engine (namespace cvgen::local): canvas
 * expansion with classical fills (and a patch-based fill), Lanczos upscaling, clearly synthetic
 * placeholder generation, and LocalProvider, the default provider. No network.
 */
#include "cvgen/local/expand.hpp"
#include "cvgen/local/local_provider.hpp"
#include "cvgen/local/patch_fill.hpp"
#include "cvgen/local/synthesize.hpp"
#include "cvgen/local/upscale.hpp"

#endif  // CVGEN_LOCAL_HPP
