#include "cvgen/stages/inputs.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <system_error>

namespace cvgen::stages {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool extensionOk(const InputQuery& q, const fs::path& p) {
    const std::string ext = lower(p.extension().string());
    return std::find(q.extensions.begin(), q.extensions.end(), ext) != q.extensions.end();
}

bool selected(const InputQuery& q, const std::string& rel) {
    bool inc = q.include.empty();
    for (const auto& g : q.include) inc = inc || globMatch(g, rel);
    if (!inc) return false;
    for (const auto& g : q.exclude)
        if (globMatch(g, rel)) return false;
    return true;
}

Status ioError(const std::string& what, const std::error_code& ec) {
    if (ec == std::errc::permission_denied) return permissionDenied(what + ": " + ec.message());
    if (ec == std::errc::no_such_file_or_directory) return notFound(what + ": " + ec.message());
    return unavailable(what + ": " + ec.message());
}

bool sameOrInside(const fs::path& p, const fs::path& dir) {
    auto pi = p.begin();
    for (auto di = dir.begin(); di != dir.end(); ++di, ++pi) {
        if (di->empty()) continue;  // trailing separator
        if (pi == p.end() || *pi != *di) return false;
    }
    return true;
}

Result<std::vector<InputItem>> listFolder(const InputQuery& q, const fs::path& root) {
    std::vector<InputItem> items;
    std::error_code ec;
    fs::path skip;
    if (!q.skipDir.empty()) skip = fs::weakly_canonical(q.skipDir, ec);
    ec.clear();
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
    if (ec) return ioError("cannot list " + root.string(), ec);
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) return ioError("cannot list " + root.string(), ec);
        const fs::path& p = it->path();
        const std::string name = p.filename().string();
        const bool isDir = it->is_directory(ec);
        if (!name.empty() && name[0] == '.') {
            if (isDir) it.disable_recursion_pending();
            continue;
        }
        if (isDir) {
            if (!skip.empty()) {
                std::error_code e2;
                if (sameOrInside(fs::weakly_canonical(p, e2), skip)) it.disable_recursion_pending();
            }
            continue;
        }
        if (!it->is_regular_file(ec) || !extensionOk(q, p)) continue;
        const std::string rel = p.lexically_relative(root).generic_string();
        if (!selected(q, rel)) continue;
        items.push_back({p.string(), rel});
    }
    return items;
}

Result<std::vector<InputItem>> listFile(const InputQuery& q, const fs::path& listPath) {
    std::ifstream in(listPath);
    if (!in) return unavailable("cannot read list file " + listPath.string());
    const fs::path base = listPath.parent_path();
    std::vector<InputItem> items;
    std::string line;
    while (std::getline(in, line)) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        size_t start = line.find_first_not_of(" \t");
        if (start == std::string::npos || line[start] == '#') continue;
        fs::path p = line.substr(start);
        if (p.is_relative()) p = base / p;
        std::error_code ec;
        if (!fs::is_regular_file(p, ec))
            return invalidArgument("list file " + listPath.string() + " names " + p.string() +
                                   ", which is not a file");
        if (!extensionOk(q, p)) continue;
        // Mirror the tree below the list file's folder; files elsewhere go flat by name.
        fs::path rel = p.lexically_normal().lexically_relative(base.lexically_normal());
        std::string r = rel.generic_string();
        if (rel.empty() || r.rfind("..", 0) == 0) r = p.filename().string();
        if (!selected(q, r)) continue;
        items.push_back({p.string(), r});
    }
    return items;
}

}  // namespace

bool globMatch(const std::string& pattern, const std::string& relPath) {
    if (fnmatch(pattern.c_str(), relPath.c_str(), 0) == 0) return true;
    const size_t slash = relPath.rfind('/');
    if (slash == std::string::npos) return false;
    return fnmatch(pattern.c_str(), relPath.c_str() + slash + 1, 0) == 0;
}

Result<std::vector<InputItem>> listInputs(const InputQuery& query) {
    std::error_code ec;
    const fs::path in(query.input);
    const fs::file_status st = fs::status(in, ec);
    if (ec || !fs::exists(st)) return notFound("input " + query.input + " does not exist");
    Result<std::vector<InputItem>> r =
        fs::is_directory(st) ? listFolder(query, in) : listFile(query, in);
    if (!r.ok()) return r;
    std::vector<InputItem> items = std::move(r).value();
    std::sort(items.begin(), items.end(),
              [](const InputItem& a, const InputItem& b) { return a.relPath < b.relPath; });
    items.erase(
        std::unique(items.begin(), items.end(),
                    [](const InputItem& a, const InputItem& b) { return a.relPath == b.relPath; }),
        items.end());
    return items;
}

uint64_t stableHash(const std::string& bytes) noexcept {
    uint64_t h = 14695981039346656037ull;
    for (unsigned char c : bytes) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

bool Shard::contains(const std::string& relPath) const {
    if (count <= 1) return true;
    return stableHash(relPath) % uint64_t(count) == uint64_t(index);
}

Result<Shard> parseShard(const std::string& text) {
    const size_t slash = text.find('/');
    auto bad = [&] {
        return invalidArgument("shard must be I/N with 0 <= I < N (0-based), got \"" + text + "\"");
    };
    if (slash == std::string::npos || slash == 0 || slash + 1 >= text.size()) return bad();
    const std::string a = text.substr(0, slash), b = text.substr(slash + 1);
    auto digits = [](const std::string& s) {
        return !s.empty() && s.size() <= 6 &&
               std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (!digits(a) || !digits(b)) return bad();
    Shard s;
    s.index = std::stoi(a);
    s.count = std::stoi(b);
    if (s.count < 1 || s.index >= s.count) return bad();
    return s;
}

}  // namespace cvgen::stages
