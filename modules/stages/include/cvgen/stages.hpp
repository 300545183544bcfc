#ifndef CVGEN_STAGES_HPP
#define CVGEN_STAGES_HPP

/** @file
 * @brief Umbrella header of cvgen::stages: frames and pipelines of stages on cv::Mat (built-in
 * expand-to-target, upscale, generate, omni, compose; user stages from a callable), and the
 * folder batch runner with its journal, shards and contact sheet.
 */
#include "cvgen/stages/batch.hpp"
#include "cvgen/stages/contact_sheet.hpp"
#include "cvgen/stages/frame.hpp"
#include "cvgen/stages/inputs.hpp"
#include "cvgen/stages/journal.hpp"
#include "cvgen/stages/ops.hpp"
#include "cvgen/stages/pipeline.hpp"

#endif  // CVGEN_STAGES_HPP
