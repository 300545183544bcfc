#ifndef CVGEN_APPS_CLI_OUTPUT_HPP
#define CVGEN_APPS_CLI_OUTPUT_HPP

// Shared input/output plumbing of the operation subcommands (expand, generate, omni, upscale):
// reading images, naming and atomically writing results, the --json report and error lines.

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/core/provider.hpp"
#include "cvgen/core/status.hpp"

namespace cvgen::cli {

/** @brief OUT for one result, or OUT with "_<i>" before the extension when there are n > 1. */
std::string indexedPath(const std::string& out, int index, int count);

/** @brief True when OUT's extension is one cvgen can write (.png .jpg .jpeg .webp .bmp .tif
 * .tiff, any case). */
bool writableExtension(const std::string& path);

/** @brief Reads and safely decodes an image file (EXIF orientation applied). */
Result<cv::Mat> readImageFile(const std::string& path);

/** @brief Writes `image` atomically (temp file + rename) in the format of the extension. Types the
 * format cannot hold are converted first: 16-bit → 8-bit for JPEG/WebP/BMP, alpha dropped for
 * JPEG. */
Status writeImageFile(const std::string& path, const cv::Mat& image);

/** @brief One written output. */
struct WrittenOutput {
    std::string path;
    int index = 0;
    cv::Size size;
};

/** @brief Writes every result image of `out` to OUT (indexed when there are several).
 * @return the outputs, or the first write error. */
Result<std::vector<WrittenOutput>> writeResults(const std::string& outPath, const TaskOutput& out);

/** @brief The --json object: command, provider, task ids, synthetic/note, outputs, timings (ms),
 * plus `extra` (already-serialised JSON members, e.g. "\"plan\":{...}") when not empty. */
std::string resultJson(const std::string& command, const TaskOutput& out,
                       const std::vector<WrittenOutput>& written, double totalMs,
                       const std::string& extra = "");

/** @brief Reports a failure: one line on stderr ("cvgen <command>: CODE: message"), and with
 * --json also {"ok":false,"error":{...}} on stdout. Returns EXIT_FAILED. */
int reportError(const std::string& command, const Status& st, bool json);

/** @brief Prints a human summary of the written outputs (without --json). */
void printSummary(const std::string& command, const TaskOutput& out,
                  const std::vector<WrittenOutput>& written, double totalMs);

}  // namespace cvgen::cli

#endif  // CVGEN_APPS_CLI_OUTPUT_HPP
