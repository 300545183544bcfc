#include <array>
#include <cmath>
#include <utility>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "cvgen/emulator/faults.hpp"
#include "fault_injector.hpp"

namespace cvgen::emulator {
namespace {

constexpr std::array<std::pair<FaultKind, const char*>, 14> kKinds = {{
    {FaultKind::RATE_LIMIT, "rate_limit"},
    {FaultKind::CONCURRENCY, "concurrency"},
    {FaultKind::SERVER_ERROR, "server_error"},
    {FaultKind::SERVICE_UNAVAILABLE, "unavailable"},
    {FaultKind::GATEWAY_TIMEOUT, "gateway_timeout"},
    {FaultKind::HTML_ERROR, "html_error"},
    {FaultKind::ROUTE_NOT_FOUND, "not_found"},
    {FaultKind::TOKEN_EXPIRED, "token_expired"},
    {FaultKind::DROP_CONNECTION, "drop_connection"},
    {FaultKind::MALFORMED_JSON, "malformed_json"},
    {FaultKind::SLOW, "slow"},
    {FaultKind::TASK_FAILED, "task_failed"},
    {FaultKind::TASK_STUCK, "task_stuck"},
    {FaultKind::TRUNCATED_DOWNLOAD, "truncated_download"},
}};

Status bad(size_t index, const std::string& field, const std::string& what) {
    return invalidArgument("faults[" + std::to_string(index) + "]." + field + ": " + what);
}

Status checkSpec(size_t i, const FaultSpec& s) {
    if (!std::isfinite(s.rate) || s.rate < 0 || s.rate > 1)
        return bad(i, "rate", "must be in [0,1]");
    if (!s.method.empty() && s.method != "GET" && s.method != "POST")
        return bad(i, "method", "must be GET, POST or empty");
    if (!s.route.empty() && s.route[0] != '/') return bad(i, "route", "must start with /");
    if (s.skip < 0) return bad(i, "skip", "must be >= 0");
    if (s.delay.count() < 0) return bad(i, "delay_ms", "must be >= 0");
    if (s.retryAfter.count() < 0) return bad(i, "retry_after", "must be >= 0");
    if (s.httpStatus != 0 && (s.httpStatus < 400 || s.httpStatus > 599))
        return bad(i, "status", "must be in [400,599]");
    return Status();
}

Result<FaultSpec> parseRule(size_t i, const rapidjson::Value& v) {
    if (!v.IsObject()) return bad(i, "", "must be an object");
    FaultSpec s;
    auto kind = v.FindMember("kind");
    if (kind == v.MemberEnd() || !kind->value.IsString()) return bad(i, "kind", "is required");
    auto k = parseFaultKind(kind->value.GetString());
    if (!k) return bad(i, "kind", std::string("unknown kind '") + kind->value.GetString() + "'");
    s.kind = *k;
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
        const std::string name = it->name.GetString();
        const auto& x = it->value;
        if (name == "kind") continue;
        if (name == "rate") {
            if (!x.IsNumber()) return bad(i, name, "must be a number");
            s.rate = x.GetDouble();
        } else if (name == "route" || name == "method") {
            if (!x.IsString()) return bad(i, name, "must be a string");
            (name == "route" ? s.route : s.method) = x.GetString();
        } else if (name == "skip" || name == "count" || name == "delay_ms" ||
                   name == "retry_after" || name == "status") {
            if (!x.IsInt()) return bad(i, name, "must be an integer");
            const int n = x.GetInt();
            if (name == "skip") s.skip = n;
            if (name == "count") s.count = n;
            if (name == "delay_ms") s.delay = std::chrono::milliseconds(n);
            if (name == "retry_after") s.retryAfter = std::chrono::seconds(n);
            if (name == "status") s.httpStatus = n;
        } else {
            return bad(i, name, "unknown field");
        }
    }
    CVGEN_RETURN_IF_ERROR(checkSpec(i, s));
    return s;
}

}  // namespace

const std::vector<FaultKind>& allFaultKinds() {
    static const std::vector<FaultKind> kAll = [] {
        std::vector<FaultKind> v;
        for (const auto& [k, name] : kKinds) v.push_back(k);
        return v;
    }();
    return kAll;
}

const char* toString(FaultKind kind) noexcept {
    for (const auto& [k, name] : kKinds)
        if (k == kind) return name;
    return "?";
}

std::optional<FaultKind> parseFaultKind(const std::string& name) noexcept {
    for (const auto& [k, n] : kKinds)
        if (name == n) return k;
    return std::nullopt;
}

Result<std::vector<FaultSpec>> parseFaults(const std::string& json) {
    rapidjson::Document doc;
    doc.Parse(json.c_str(), json.size());
    if (doc.HasParseError())
        return invalidArgument(std::string("faults: not valid JSON: ") +
                               rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                               std::to_string(doc.GetErrorOffset()));
    const rapidjson::Value* list = &doc;
    if (doc.IsObject()) {
        auto it = doc.FindMember("faults");
        if (it == doc.MemberEnd()) return invalidArgument("faults: missing \"faults\" array");
        list = &it->value;
    }
    if (!list->IsArray()) return invalidArgument("faults: must be an array of rules");
    std::vector<FaultSpec> out;
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
        auto r = parseRule(i, (*list)[i]);
        if (!r.ok()) return r.status();
        out.push_back(std::move(r).value());
    }
    return out;
}

Result<FaultSpec> parseFaultFlag(const std::string& flag) {
    FaultSpec s;
    std::string rest = flag;
    const size_t at = rest.find('@');
    if (at != std::string::npos) {
        s.route = rest.substr(at + 1);
        rest.resize(at);
    }
    const size_t eq = rest.find('=');
    if (eq != std::string::npos) {
        const std::string rate = rest.substr(eq + 1);
        size_t used = 0;
        try {
            s.rate = std::stod(rate, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != rate.size())
            return invalidArgument("--fault " + flag + ": rate must be a number in [0,1]");
        rest.resize(eq);
    }
    auto k = parseFaultKind(rest);
    if (!k) return invalidArgument("--fault " + flag + ": unknown kind '" + rest + "'");
    s.kind = *k;
    Status st = checkSpec(0, s);
    if (!st.ok()) return invalidArgument("--fault " + flag + ": " + st.message());
    return s;
}

namespace detail {

FaultPhase phaseOf(FaultKind kind) noexcept {
    switch (kind) {
        case FaultKind::DROP_CONNECTION:
        case FaultKind::MALFORMED_JSON:
        case FaultKind::SLOW:
            return FaultPhase::AFTER;
        case FaultKind::TASK_FAILED:
        case FaultKind::TASK_STUCK:
            return FaultPhase::CREATE;
        case FaultKind::TRUNCATED_DOWNLOAD:
            return FaultPhase::DOWNLOAD;
        default:
            return FaultPhase::BEFORE;
    }
}

FaultInjector::FaultInjector(std::vector<FaultSpec> specs, uint64_t seed) {
    uint64_t i = 0;
    for (auto& s : specs) {
        // Each rule has its own stream so adding a rule does not change the others' draws.
        std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                          static_cast<uint32_t>(i++)};
        rules_.push_back(Rule{std::move(s), std::mt19937_64(seq)});
    }
}

std::optional<FaultSpec> FaultInjector::draw(FaultPhase phase, const std::string& method,
                                             const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& r : rules_) {
        const FaultSpec& s = r.spec;
        if (phaseOf(s.kind) != phase) continue;
        if (!s.method.empty() && s.method != method) continue;
        if (!s.route.empty() && path.compare(0, s.route.size(), s.route) != 0) continue;
        if (s.count >= 0 && r.hits >= s.count) continue;
        if (r.seen++ < s.skip) continue;
        const double u = std::uniform_real_distribution<double>(0.0, 1.0)(r.rng);
        if (u >= s.rate) continue;
        ++r.hits;
        ++injected_[toString(s.kind)];
        return s;
    }
    return std::nullopt;
}

std::map<std::string, int64_t> FaultInjector::injected() const {
    std::lock_guard<std::mutex> lock(mu_);
    return injected_;
}

}  // namespace detail
}  // namespace cvgen::emulator
