#include "batch_util.hpp"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <iomanip>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "compose_util.hpp"
#include "cvgen/stages/journal.hpp"
#include "json_util.hpp"

namespace cvgen::stages {

namespace fs = std::filesystem;

const char* toString(BatchOp op) noexcept {
    switch (op) {
        case BatchOp::EXPAND:
            return "expand";
        case BatchOp::UPSCALE:
            return "upscale";
    }
    return "?";
}

const char* toString(ItemStatus s) noexcept {
    switch (s) {
        case ItemStatus::OK:
            return "ok";
        case ItemStatus::FAILED:
            return "failed";
        case ItemStatus::SKIPPED:
            return "skipped";
        case ItemStatus::PLANNED:
            return "planned";
        case ItemStatus::NOT_RUN:
            return "not_run";
    }
    return "?";
}

int BatchSummary::exitCode() const noexcept {
    if (stoppedEarly || cancelled) return 3;
    if (failed > 0) return 1;
    return 0;
}

std::string outputRelPath(const std::string& inputRelPath, const std::string& naming,
                          const std::string& ext, cv::Size size, const std::string& op) {
    const fs::path rel(inputRelPath);
    const std::string stem = rel.stem().string();
    std::string name;
    for (size_t i = 0; i < naming.size();) {
        if (naming[i] == '{') {
            const size_t close = naming.find('}', i);
            if (close != std::string::npos) {
                const std::string tok = naming.substr(i + 1, close - i - 1);
                bool known = true;
                if (tok == "stem")
                    name += stem;
                else if (tok == "ext")
                    name += ext;
                else if (tok == "name")
                    name += rel.filename().string();
                else if (tok == "W")
                    name += std::to_string(size.width);
                else if (tok == "H")
                    name += std::to_string(size.height);
                else if (tok == "op")
                    name += op;
                else
                    known = false;
                if (known) {
                    i = close + 1;
                    continue;
                }
            }
        }
        name += naming[i++];
    }
    const fs::path dir = rel.parent_path();
    return dir.empty() ? name : (dir / name).generic_string();
}

namespace detail {

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string hex64(uint64_t v) {
    std::ostringstream o;
    o << std::hex << std::setw(16) << std::setfill('0') << v;
    return o.str();
}

std::string randomRunId() {
    std::random_device rd;
    const uint64_t v =
        (uint64_t(rd()) << 32) ^ uint64_t(rd()) ^ uint64_t(Clock::now().time_since_epoch().count());
    return hex64(v);
}

std::string describeTarget(const TargetSpec& t) {
    std::ostringstream o;
    if (t.kind == TargetSpec::Kind::EXACT) {
        o << t.size.width << "x" << t.size.height;
    } else {
        o << t.aspectW << ":" << t.aspectH << "@scale=" << t.scale << ",short=" << t.shortSide
          << ",long=" << t.longSide;
    }
    return o.str();
}

std::string describePlacement(const Placement& p) {
    if (p.kind == Placement::Kind::OFFSET)
        return std::to_string(p.offset.x) + "," + std::to_string(p.offset.y);
    return toString(p.gravity);
}

/** The image converted to what the output format can hold (reported as warnings). */
cv::Mat prepareForFormat(const cv::Mat& img, ImageFormat f, std::vector<std::string>& warnings) {
    cv::Mat out = img;
    const bool eightBitOnly =
        f == ImageFormat::JPEG || f == ImageFormat::WEBP || f == ImageFormat::BMP;
    if (eightBitOnly && out.depth() != CV_8U) {
        out = detail::matchType(out, CV_MAKETYPE(CV_8U, out.channels()));
        warnings.push_back(std::string("converted to 8 bits for ") + formatName(f));
    }
    if (f == ImageFormat::JPEG && out.channels() == 4) {
        out = detail::matchType(out, CV_8UC3);
        warnings.push_back("alpha dropped for JPEG");
    }
    return out;
}

fs::path canonicalish(const fs::path& p) {
    std::error_code ec;
    fs::path c = fs::weakly_canonical(fs::absolute(p, ec), ec);
    return ec ? fs::absolute(p).lexically_normal() : c;
}

bool isInside(const fs::path& p, const fs::path& dir) {
    auto pi = p.begin();
    for (auto di = dir.begin(); di != dir.end(); ++di, ++pi) {
        if (di->empty()) continue;
        if (pi == p.end() || *pi != *di) return false;
    }
    return true;
}

/** Removes temporary files (".<name>.tmp-<pid>-<k>", see writeFileAtomic) left by a process of
 * this host that no longer runs (a crash or SIGKILL mid-write). */
void removeStaleTemps(const fs::path& out) {
    static const std::regex tmpName(R"(^\..+\.tmp-(\d+)-\d+$)");
    std::error_code ec;
    fs::recursive_directory_iterator it(out, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        std::smatch m;
        if (!std::regex_match(name, m, tmpName) || !it->is_regular_file(ec)) continue;
        const long pid = std::strtol(m[1].str().c_str(), nullptr, 10);
        if (pid > 0 && ::kill(pid_t(pid), 0) != 0 && errno == ESRCH) {
            std::error_code e2;
            fs::remove(it->path(), e2);
        }
    }
}

std::string reportLine(const ItemReport& r) {
    rapidjson::StringBuffer buf;
    detail::JsonWriter w(buf);
    w.StartObject();
    detail::key(w, "type", "item");
    detail::key(w, "status", toString(r.status));
    detail::key(w, "input", r.input);
    detail::key(w, "rel_path", r.relPath);
    detail::key(w, "output", r.output);
    detail::key(w, "code", codeName(r.code));
    detail::keyInt(w, "provider_code", r.providerCode);
    detail::key(w, "message", r.message);
    detail::key(w, "provider", r.provider);
    detail::key(w, "external_task_id", r.externalTaskId);
    detail::keyStrings(w, "task_ids", r.taskIds);
    w.Key("timings_ms");
    w.StartObject();
    for (const auto& [k, v] : r.timings) detail::keyDouble(w, k.c_str(), std::round(v * 10) / 10);
    w.EndObject();
    detail::keyInt(w, "input_width", r.inputSize.width);
    detail::keyInt(w, "input_height", r.inputSize.height);
    detail::keyInt(w, "output_width", r.outputSize.width);
    detail::keyInt(w, "output_height", r.outputSize.height);
    detail::keyInt(w, "attempts", r.attempts);
    detail::keyInt(w, "tasks", r.tasks);
    detail::keyInt(w, "result_images", r.resultImages);
    detail::keyStrings(w, "warnings", r.warnings);
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
}

std::string summaryLine(const BatchSummary& s, const std::string& op) {
    rapidjson::StringBuffer buf;
    detail::JsonWriter w(buf);
    w.StartObject();
    detail::key(w, "type", "summary");
    detail::key(w, "op", op);
    detail::keyInt(w, "total", (long long)s.total);
    detail::keyInt(w, "ok", (long long)s.ok);
    detail::keyInt(w, "failed", (long long)s.failed);
    detail::keyInt(w, "skipped", (long long)s.skipped);
    detail::keyInt(w, "planned", (long long)s.planned);
    detail::keyInt(w, "not_run", (long long)s.notRun);
    detail::keyInt(w, "tasks", (long long)s.tasks);
    detail::keyInt(w, "result_images", (long long)s.resultImages);
    detail::keyBool(w, "stopped_early", s.stoppedEarly);
    detail::keyBool(w, "cancelled", s.cancelled);
    detail::key(w, "stop_reason", s.stopReason);
    detail::keyDouble(w, "seconds", std::round(s.seconds * 1000) / 1000);
    detail::keyInt(w, "exit_code", s.exitCode());
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
}

double msSince(Clock::time_point a) {
    return std::chrono::duration<double, std::milli>(Clock::now() - a).count();
}

}  // namespace detail
}  // namespace cvgen::stages
