#ifndef CVGEN_STAGES_INPUTS_HPP
#define CVGEN_STAGES_INPUTS_HPP

#include <cstdint>
#include <string>
#include <vector>

#include "cvgen/core/status.hpp"

namespace cvgen::stages {

/** @brief One input image of a batch. */
struct InputItem {
    std::string path;     ///< as found on disk (input folder joined with relPath, or as listed)
    std::string relPath;  ///< relative path with '/' separators: the key of journal, shard, output
};

/** @brief Which files of a folder (or list file) a batch takes. */
struct InputQuery {
    /** @brief A folder (scanned recursively) or a list file (one path per line; blank lines and
     * lines starting with '#' are skipped; relative paths are relative to the list file's folder).
     */
    std::string input;
    /** @brief fnmatch(3) globs; an item is taken when it matches any include (or there is none)
     * and no exclude. A glob is matched against the relative path ('*' also crosses '/') and
     * against the file name, so both "*.png" and "portraits/" followed by "*" work. */
    std::vector<std::string> include;
    std::vector<std::string> exclude;
    /** @brief Accepted extensions, lower case with the dot; compared case-insensitively. */
    std::vector<std::string> extensions = {".jpg", ".jpeg", ".png", ".webp",
                                           ".bmp", ".tif",  ".tiff"};
    /** @brief A folder not to descend into (the batch's output folder when it lies inside the
     * input folder), so a second run never takes the first run's outputs as inputs. */
    std::string skipDir;
};

/** @brief Lists the inputs, sorted by relative path (byte order), deduplicated.
 * Hidden entries (names starting with '.') are skipped.
 * @return NOT_FOUND when the input does not exist, PERMISSION_DENIED / UNAVAILABLE for I/O
 * errors, INVALID_ARGUMENT for a list file naming a missing file. */
Result<std::vector<InputItem>> listInputs(const InputQuery& query);

/** @brief fnmatch(3) of `pattern` against `relPath` or its last component (flags 0). */
bool globMatch(const std::string& pattern, const std::string& relPath);

/** @brief A deterministic slice of a batch: item i of N (0-based, 0 ≤ index < count).
 *
 * An item belongs to shard `stableHash(relPath) % count`, so the split depends only on each
 * item's relative path: N machines listing the same folder (a Kubernetes Indexed Job with
 * JOB_COMPLETION_INDEX, a Slurm array with SLURM_ARRAY_TASK_ID) take disjoint slices that cover
 * it, without coordination, and adding a file never moves the others between shards.
 */
struct Shard {
    int index = 0;
    int count = 1;
    /** @brief True when `relPath` falls in this shard. */
    bool contains(const std::string& relPath) const;
};

/** @brief Parses "I/N" (0 ≤ I < N). @return INVALID_ARGUMENT otherwise. */
Result<Shard> parseShard(const std::string& text);

/** @brief 64-bit FNV-1a of the bytes: stable across machines, builds and runs. */
uint64_t stableHash(const std::string& bytes) noexcept;

}  // namespace cvgen::stages

#endif  // CVGEN_STAGES_INPUTS_HPP
