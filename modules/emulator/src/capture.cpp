#include "capture.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <map>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace cvgen::emulator::detail {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
constexpr size_t kMaxTextBody = 4096;  // a non-JSON text body up to this is kept (masked)
constexpr int kMaxDepth = 64;          // JSON deeper than this is summarized, not walked

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool isBase64UrlChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

std::string sha256Hex(const std::string& data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    static const char* kHex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += kHex[md[i] >> 4];
        out += kHex[md[i] & 15];
    }
    return out;
}

/** A long string of the base64 alphabet (standard or URL-safe, padding allowed), or a data:
 * URL carrying one: an image, not something a test wants to read back. */
bool looksLikeBase64Payload(const std::string& s, size_t* payloadStart) {
    size_t start = 0;
    if (s.rfind("data:", 0) == 0) {
        const size_t comma = s.find(',');
        if (comma == std::string::npos) return false;
        start = comma + 1;
    }
    if (s.size() - start < 64) return false;
    for (size_t i = start; i < s.size(); ++i) {
        const char c = s[i];
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=' ||
              c == '-' || c == '_' || c == '\n' || c == '\r'))
            return false;
    }
    *payloadStart = start;
    return true;
}

void writeString(Writer& w, const std::string& s) {
    w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
}

/** The summary of a base64 payload: its length and SHA-256 (of the string as sent). */
void writeBase64Summary(Writer& w, const std::string& s, size_t payloadStart) {
    w.StartObject();
    if (payloadStart > 0) {
        w.Key("data_url_prefix");
        writeString(w, s.substr(0, payloadStart));
    }
    w.Key("base64_length");
    w.Uint64(s.size() - payloadStart);
    w.Key("sha256");
    writeString(w, sha256Hex(s.substr(payloadStart)));
    w.EndObject();
}

void writeValue(Writer& w, const rapidjson::Value& v, const SecretMasker& m, bool secret,
                int depth) {
    if (depth > kMaxDepth) {
        writeString(w, "<nested deeper than 64 levels>");
        return;
    }
    if (v.IsObject()) {
        w.StartObject();
        for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
            const std::string name(it->name.GetString(), it->name.GetStringLength());
            writeString(w, m.maskText(name));
            writeValue(w, it->value, m, secret || SecretMasker::secretName(name), depth + 1);
        }
        w.EndObject();
    } else if (v.IsArray()) {
        w.StartArray();
        for (const auto& e : v.GetArray()) writeValue(w, e, m, secret, depth + 1);
        w.EndArray();
    } else if (v.IsString()) {
        const std::string s(v.GetString(), v.GetStringLength());
        size_t start = 0;
        if (secret && !s.empty())
            writeString(w, SecretMasker::maskSecretValue(s));
        else if (looksLikeBase64Payload(s, &start) && m.maskText(s) == s)
            writeBase64Summary(w, s, start);
        else
            writeString(w, m.maskText(s));
    } else if (secret && !v.IsNull()) {
        writeString(w, "***");  // a number or bool under a secret name
    } else {
        v.Accept(w);
    }
}

/** A body: parsed JSON (summarized), else short text (masked), else its size and hash. */
void writeBody(Writer& w, const std::string& body, const std::string& contentType,
               const SecretMasker& m) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseIterativeFlag>(body.c_str(), body.size());
    if (!d.HasParseError()) {
        w.Key("json");
        writeValue(w, d, m, false, 0);
        return;
    }
    const bool text = lower(contentType).find("text") != std::string::npos ||
                      std::all_of(body.begin(), body.end(), [](char c) {
                          return c == '\n' || c == '\r' || c == '\t' ||
                                 (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
                      });
    if (text && body.size() <= kMaxTextBody) {
        w.Key("text");
        writeString(w, m.maskText(body));
        return;
    }
    w.Key("bytes");
    w.StartObject();
    w.Key("length");
    w.Uint64(body.size());
    w.Key("sha256");
    writeString(w, sha256Hex(body));
    w.EndObject();
}

}  // namespace

SecretMasker::SecretMasker(std::vector<std::string> knownSecrets) {
    for (auto& s : knownSecrets)
        if (s.size() >= 4) known_.push_back(std::move(s));
    // Longest first, so a key that contains another is masked whole.
    std::sort(known_.begin(), known_.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

bool SecretMasker::secretName(const std::string& name) {
    static const char* kWords[] = {"auth",   "key",    "secret",    "token",   "password",
                                   "passwd", "cookie", "signature", "session", "credential"};
    const std::string n = lower(name);
    for (const char* w : kWords)
        if (n.find(w) != std::string::npos) return true;
    return false;
}

std::string SecretMasker::maskSecretValue(const std::string& value) {
    size_t i = 0;
    while (i < value.size() && std::isalpha(static_cast<unsigned char>(value[i]))) ++i;
    if (i > 0 && i <= 10 && i < value.size() && value[i] == ' ')
        return value.substr(0, i) + " ***";  // "Bearer ***", "Basic ***"
    return "***";
}

std::string SecretMasker::maskText(const std::string& text) const {
    std::string s = text;
    for (const std::string& k : known_) {
        for (size_t at = 0; (at = s.find(k, at)) != std::string::npos;) {
            s.replace(at, k.size(), "***");
            at += 3;
        }
    }
    // JWTs: "eyJ" + base64url, '.', base64url, '.', base64url.
    for (size_t at = 0; (at = s.find("eyJ", at)) != std::string::npos;) {
        size_t i = at, dots = 0;
        while (i < s.size() && (isBase64UrlChar(s[i]) || (s[i] == '.' && dots < 2))) {
            if (s[i] == '.') ++dots;
            ++i;
        }
        if (dots == 2 && s[i - 1] != '.') {
            s.replace(at, i - at, "***jwt***");
            at += 9;
        } else {
            at += 3;
        }
    }
    return s;
}

std::string captureRequest(const httplib::Request& req, const std::string& route, int status,
                           uint64_t seq, int64_t timeMs, const SecretMasker& m) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("seq");
    w.Uint64(seq);
    w.Key("time_ms");
    w.Int64(timeMs);
    w.Key("method");
    writeString(w, req.method);
    w.Key("path");
    writeString(w, m.maskText(req.path));
    w.Key("route");
    writeString(w, m.maskText(route));
    w.Key("status");
    w.Int(status);
    w.Key("query");
    w.StartObject();
    for (const auto& [name, value] : req.params) {
        writeString(w, m.maskText(name));
        writeString(w, SecretMasker::secretName(name) ? SecretMasker::maskSecretValue(value)
                                                      : m.maskText(value));
    }
    w.EndObject();
    // Headers by name (a repeated one joined with ", ").
    std::map<std::string, std::string> headers;
    for (const auto& [name, value] : req.headers) {
        const std::string v = SecretMasker::secretName(name) ? SecretMasker::maskSecretValue(value)
                                                             : m.maskText(value);
        auto& slot = headers[name];
        slot = slot.empty() ? v : slot + ", " + v;
    }
    w.Key("headers");
    w.StartObject();
    for (const auto& [name, value] : headers) {
        writeString(w, name);
        writeString(w, value);
    }
    w.EndObject();
    w.Key("body_length");
    w.Uint64(req.body.size());
    if (req.is_multipart_form_data()) {
        w.Key("multipart");
        w.StartArray();
        for (const auto& [name, part] : req.files) {
            w.StartObject();
            w.Key("name");
            writeString(w, m.maskText(part.name));
            if (!part.filename.empty()) {
                w.Key("filename");
                writeString(w, m.maskText(part.filename));
            }
            if (!part.content_type.empty()) {
                w.Key("content_type");
                writeString(w, part.content_type);
            }
            w.Key("length");
            w.Uint64(part.content.size());
            if (SecretMasker::secretName(part.name)) {
                w.Key("text");
                writeString(w, "***");
            } else if (part.filename.empty() ||
                       part.content_type.find("json") != std::string::npos) {
                writeBody(w, part.content, part.content_type, m);
            } else {
                w.Key("sha256");
                writeString(w, sha256Hex(part.content));
            }
            w.EndObject();
        }
        w.EndArray();
    } else if (!req.body.empty()) {
        w.Key("body");
        w.StartObject();
        writeBody(w, req.body, req.get_header_value("Content-Type"), m);
        w.EndObject();
    }
    w.EndObject();
    return sb.GetString();
}

uint64_t RequestLog::nextSeq() {
    std::lock_guard<std::mutex> lock(mu_);
    return ++seq_;
}

void RequestLog::add(std::string entryJson) {
    std::lock_guard<std::mutex> lock(mu_);
    entries_.push_back(std::move(entryJson));
    while (entries_.size() > capacity_) entries_.pop_front();
}

std::string RequestLog::lastJson(size_t n) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out = "{\"requests\":[";
    const size_t first = entries_.size() > n ? entries_.size() - n : 0;
    for (size_t i = first; i < entries_.size(); ++i) {
        if (i > first) out += ',';
        out += entries_[i];
    }
    out +=
        "],\"total\":" + std::to_string(seq_) + ",\"capacity\":" + std::to_string(capacity_) + "}";
    return out;
}

size_t RequestLog::clear() {
    std::lock_guard<std::mutex> lock(mu_);
    const size_t n = entries_.size();
    entries_.clear();
    return n;
}

}  // namespace cvgen::emulator::detail
