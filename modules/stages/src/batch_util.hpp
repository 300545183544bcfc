// Internal to the batch runner: small helpers (names, paths, formats) and the report's JSON lines.
#ifndef CVGEN_STAGES_SRC_BATCH_UTIL_HPP
#define CVGEN_STAGES_SRC_BATCH_UTIL_HPP

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/core/codec.hpp"
#include "cvgen/core/planner.hpp"
#include "cvgen/stages/batch.hpp"

namespace cvgen::stages::detail {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string lower(std::string s);
std::string hex64(uint64_t v);
std::string randomRunId();
std::string describeTarget(const TargetSpec& t);
std::string describePlacement(const Placement& p);
cv::Mat prepareForFormat(const cv::Mat& img, ImageFormat f, std::vector<std::string>& warnings);
fs::path canonicalish(const fs::path& p);
bool isInside(const fs::path& p, const fs::path& dir);
void removeStaleTemps(const fs::path& out);
std::string reportLine(const ItemReport& r);
std::string summaryLine(const BatchSummary& s, const std::string& op);
double msSince(Clock::time_point a);

}  // namespace cvgen::stages::detail

#endif  // CVGEN_STAGES_SRC_BATCH_UTIL_HPP
