#include "routes.hpp"

#include <utility>

namespace cvgen::emulator::detail {

Route resolve(const std::string& method, const std::string& path) {
    Route r;
    r.key = method + " " + path;
    if (method == "GET" && path == "/_emulator/stats") {
        r.family = Family::STATS;
        r.action = Action::STATS;
        return r;
    }
    if (path == "/_emulator/requests" && (method == "GET" || method == "DELETE")) {
        r.family = Family::STATS;
        r.action = method == "GET" ? Action::REQUESTS : Action::CLEAR_REQUESTS;
        return r;
    }
    static const std::string kResults = "/_emulator/results/";
    if (path.rfind(kResults, 0) == 0) {
        const std::string rest = path.substr(kResults.size());
        const size_t slash = rest.find('/');
        if (method == "GET" && slash != std::string::npos && slash > 0 &&
            rest.find('/', slash + 1) == std::string::npos) {
            r.family = Family::RESULTS;
            r.action = Action::DOWNLOAD;
            r.id = rest.substr(0, slash);
            r.file = rest.substr(slash + 1);
        }
        r.key = method + " /_emulator/results/{task}/{file}";
        return r;
    }
    if (path == "/upscale") {
        if (method == "POST") {
            r.family = Family::IDEOGRAM;
            r.action = Action::CREATE;
            r.kind = TaskKind::UPSCALE;
        }
        return r;
    }
    static const std::string kAggUpscale = "/ideogram/upscale";
    if (path.rfind(kAggUpscale, 0) == 0) {
        const std::string rest = path.substr(kAggUpscale.size());
        r.kind = TaskKind::UPSCALE;
        if (rest.empty() && method == "POST") {
            r.family = Family::IDEOGRAM_AGG;
            r.action = Action::CREATE;
        } else if (rest.size() > 1 && rest[0] == '/' && rest.find('/', 1) == std::string::npos &&
                   method == "GET") {
            r.family = Family::IDEOGRAM_AGG;
            r.action = Action::QUERY;
            r.id = rest.substr(1);
            r.key = "GET /ideogram/upscale/{id}";
        }
        return r;
    }
    Family family;
    std::string rest;
    if (path.rfind("/v1/images/", 0) == 0) {
        family = Family::KLING;
        rest = path.substr(11);
    } else if (path.rfind("/kling/v1/images/", 0) == 0) {
        family = Family::AGGREGATOR;
        rest = path.substr(17);
    } else {
        return r;
    }
    static const std::pair<const char*, TaskKind> kKinds[] = {
        {"generations", TaskKind::GENERATION},
        {"editing/expand", TaskKind::EXPAND},
        {"omni-image", TaskKind::OMNI},
    };
    for (const auto& [name, kind] : kKinds) {
        const std::string n = name;
        if (rest.rfind(n, 0) != 0) continue;
        const std::string tail = rest.substr(n.size());
        const std::string base = path.substr(0, path.size() - tail.size());
        if (tail.empty()) {
            if (method == "POST") r.action = Action::CREATE;
            if (method == "GET") r.action = Action::LIST;
        } else if (tail.size() > 1 && tail[0] == '/' && tail.find('/', 1) == std::string::npos &&
                   method == "GET") {
            r.action = Action::QUERY;
            r.id = tail.substr(1);
            r.key = "GET " + base + "/{id}";
        }
        if (r.action != Action::NONE) {
            r.family = family;
            r.kind = kind;
        }
        return r;
    }
    return r;
}

}  // namespace cvgen::emulator::detail
