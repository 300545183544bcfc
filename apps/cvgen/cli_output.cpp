#include "cli_output.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <opencv2/imgproc.hpp>

#include "command.hpp"
#include "cvgen/core/codec.hpp"

namespace cvgen::cli {
namespace {

std::string lowerExtension(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    const size_t dot = path.find_last_of('.');
    if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
    std::string ext = path.substr(dot);
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    return ext;
}

}  // namespace

std::string indexedPath(const std::string& out, int index, int count) {
    if (count <= 1) return out;
    const size_t slash = out.find_last_of('/');
    size_t dot = out.find_last_of('.');
    if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) dot = out.size();
    return out.substr(0, dot) + "_" + std::to_string(index) + out.substr(dot);
}

bool writableExtension(const std::string& path) {
    const std::string e = lowerExtension(path);
    return e == ".png" || e == ".jpg" || e == ".jpeg" || e == ".webp" || e == ".bmp" ||
           e == ".tif" || e == ".tiff";
}

Result<cv::Mat> readImageFile(const std::string& path) {
    auto bytes = readFileBytes(path);
    if (!bytes.ok()) return bytes.status().withContext(path);
    auto img = decodeImage(bytes.value());
    if (!img.ok()) return img.status().withContext(path);
    return img;
}

Status writeImageFile(const std::string& path, const cv::Mat& image) {
    const std::string e = lowerExtension(path);
    cv::Mat m = image;
    const bool jpeg = e == ".jpg" || e == ".jpeg";
    if ((jpeg || e == ".webp" || e == ".bmp") && m.depth() == CV_16U)
        m.convertTo(m, CV_8U, 1.0 / 257.0);
    if (jpeg && m.channels() == 4) cv::cvtColor(m, m, cv::COLOR_BGRA2BGR);
    return writeImageAtomic(path, m);
}

Result<std::vector<WrittenOutput>> writeResults(const std::string& outPath, const TaskOutput& out) {
    std::vector<WrittenOutput> written;
    const int count = int(out.images.size());
    for (int i = 0; i < count; ++i) {
        const ResultImage& r = out.images[size_t(i)];
        WrittenOutput w;
        w.path = indexedPath(outPath, i, count);
        w.index = r.index;
        w.size = r.image.size();
        Status st = writeImageFile(w.path, r.image);
        if (!st.ok()) return st.withContext("writing " + w.path);
        written.push_back(std::move(w));
    }
    return written;
}

std::string resultJson(const std::string& command, const TaskOutput& out,
                       const std::vector<WrittenOutput>& written, double totalMs,
                       const std::string& extra) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("ok");
    w.Bool(true);
    w.Key("command");
    w.String(command.c_str());
    w.Key("provider");
    w.String(out.provider.c_str());
    w.Key("task_id");
    w.String(out.taskId.c_str());
    w.Key("external_task_id");
    w.String(out.externalTaskId.c_str());
    if (!out.requestId.empty()) {
        w.Key("request_id");
        w.String(out.requestId.c_str());
    }
    w.Key("task_status");
    w.String(out.taskStatus.c_str());
    w.Key("synthetic");
    w.Bool(out.synthetic);
    w.Key("note");
    w.String(out.note.c_str());
    w.Key("units_deducted");
    w.Double(out.unitsDeducted);
    w.Key("outputs");
    w.StartArray();
    for (const auto& o : written) {
        w.StartObject();
        w.Key("path");
        w.String(o.path.c_str());
        w.Key("index");
        w.Int(o.index);
        w.Key("width");
        w.Int(o.size.width);
        w.Key("height");
        w.Int(o.size.height);
        w.EndObject();
    }
    w.EndArray();
    w.Key("timings_ms");
    w.StartObject();
    w.Key("submit");
    w.Int64(out.timings.submit.count());
    w.Key("wait");
    w.Int64(out.timings.wait.count());
    w.Key("download");
    w.Int64(out.timings.download.count());
    w.Key("provider_total");
    w.Int64(out.timings.total.count());
    w.Key("total");
    w.Double(totalMs);
    w.EndObject();
    w.EndObject();
    std::string s = sb.GetString();
    if (!extra.empty()) s.insert(s.size() - 1, "," + extra);
    return s;
}

int reportError(const std::string& command, const Status& st, bool json) {
    std::cerr << "cvgen " << command << ": " << st.toString() << "\n";
    if (json) {
        rapidjson::StringBuffer sb;
        rapidjson::Writer<rapidjson::StringBuffer> w(sb);
        w.StartObject();
        w.Key("ok");
        w.Bool(false);
        w.Key("command");
        w.String(command.c_str());
        w.Key("error");
        w.StartObject();
        w.Key("code");
        w.String(codeName(st.code()));
        w.Key("message");
        w.String(st.message().c_str());
        w.Key("retryable");
        w.Bool(st.retryable());
        w.EndObject();
        w.EndObject();
        std::cout << sb.GetString() << "\n";
    }
    return EXIT_FAILED;
}

void printSummary(const std::string& command, const TaskOutput& out,
                  const std::vector<WrittenOutput>& written, double totalMs) {
    for (const auto& o : written)
        std::cout << o.path << " " << o.size.width << "x" << o.size.height << "\n";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.0f ms", totalMs);
    std::cout << command << ": " << written.size() << " image(s) from " << out.provider << " ("
              << out.taskId << ") in " << buf << "\n";
    if (out.synthetic || !out.note.empty()) std::cerr << "note: " << out.note << "\n";
}

}  // namespace cvgen::cli
