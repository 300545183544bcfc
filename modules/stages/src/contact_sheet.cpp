#include "cvgen/stages/contact_sheet.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

#include <opencv2/imgproc.hpp>

#include "compose_util.hpp"
#include "cvgen/core/base64.hpp"
#include "cvgen/core/codec.hpp"

namespace cvgen::stages {

namespace {

/** The image fitted into `box` (aspect kept, 8UC3, letterboxed on dark grey); a light grey box
 * with a cross when the image cannot be read. */
cv::Mat thumbnail(const std::string& path, cv::Size box) {
    cv::Mat canvas(box, CV_8UC3, cv::Scalar(40, 40, 40));
    Result<std::vector<uint8_t>> bytes =
        path.empty() ? Result<std::vector<uint8_t>>(notFound("none")) : readFileBytes(path);
    Result<cv::Mat> img = bytes.ok() ? decodeImage(*bytes) : Result<cv::Mat>(bytes.status());
    if (!img.ok() || img->empty()) {
        canvas.setTo(cv::Scalar(160, 160, 160));
        cv::line(canvas, {0, 0}, {box.width - 1, box.height - 1}, cv::Scalar(90, 90, 90), 2);
        cv::line(canvas, {box.width - 1, 0}, {0, box.height - 1}, cv::Scalar(90, 90, 90), 2);
        return canvas;
    }
    cv::Mat src = detail::matchType(*img, CV_8UC3);
    const double s = std::min(double(box.width) / src.cols, double(box.height) / src.rows);
    const cv::Size sz(std::max(1, int(src.cols * s + 0.5)), std::max(1, int(src.rows * s + 0.5)));
    cv::Mat small;
    cv::resize(src, small, sz, 0, 0, s < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    const cv::Rect at((box.width - sz.width) / 2, (box.height - sz.height) / 2, sz.width,
                      sz.height);
    small.copyTo(canvas(at & cv::Rect(cv::Point(), box)));
    return canvas;
}

std::string htmlEscape(const std::string& s) {
    std::string o;
    for (char c : s) {
        switch (c) {
            case '&':
                o += "&amp;";
                break;
            case '<':
                o += "&lt;";
                break;
            case '>':
                o += "&gt;";
                break;
            case '"':
                o += "&quot;";
                break;
            default:
                o += c;
        }
    }
    return o;
}

std::string fileUrl(const std::string& path) {
    std::string o = !path.empty() && path[0] == '/' ? "file://" : "";
    for (unsigned char c : path) {
        if (std::isalnum(c) || c == '/' || c == '.' || c == '-' || c == '_' || c == '~') {
            o += char(c);
        } else {
            static const char* hex = "0123456789ABCDEF";
            o += '%';
            o += hex[c >> 4];
            o += hex[c & 15];
        }
    }
    return o;
}

std::string dataUri(const cv::Mat& thumb) {
    Result<std::vector<uint8_t>> jpg = encodeImage(thumb, ImageFormat::JPEG, 85);
    if (!jpg.ok()) return std::string();
    return "data:image/jpeg;base64," + base64Encode(*jpg);
}

void caption(cv::Mat& img, const std::string& text, cv::Point at, double scale,
             const cv::Scalar& color) {
    std::string t = text;
    // Keep the caption inside its cell: trim from the left (the file name matters most).
    int base = 0;
    while (t.size() > 4 && cv::getTextSize(t, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &base).width >
                               img.cols - at.x - 4)
        t = "..." + t.substr(4);
    cv::putText(img, t, at, cv::FONT_HERSHEY_SIMPLEX, scale, color, 1, cv::LINE_AA);
}

}  // namespace

Status writeContactSheet(const std::vector<ContactSheetEntry>& entries, const std::string& htmlPath,
                         const std::string& pngPath, const ContactSheetParams& params) {
    CV_Assert(params.thumb.width >= 16 && params.thumb.height >= 16);
    CV_Assert(params.maxItems >= 1 && params.pairsPerRow >= 1 && params.maxMontageItems >= 1);
    const size_t shown = std::min(entries.size(), size_t(params.maxItems));
    const size_t inMontage = std::min(shown, size_t(params.maxMontageItems));
    const cv::Size box = params.thumb;
    const int pad = 8, captionH = 36;
    const int cellW = 2 * box.width + 3 * pad, cellH = box.height + captionH + 2 * pad;
    const int cols =
        int(std::max<size_t>(1, std::min<size_t>(size_t(params.pairsPerRow), inMontage)));
    const int rows = int((inMontage + size_t(cols) - 1) / size_t(cols));
    cv::Mat montage(std::max(1, rows) * cellH + pad, cols * cellW + pad, CV_8UC3,
                    cv::Scalar(24, 24, 24));

    std::ostringstream html;
    html << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>cvgen contact "
            "sheet</title>\n<style>body{font-family:sans-serif;background:#181818;color:#ddd}"
            "table{border-collapse:collapse}td{padding:6px;vertical-align:top}"
            "img{border:1px solid #444}.failed{color:#f66}.ok{color:#6c6}"
            ".skipped{color:#aaa}</style></head><body>\n<h1>cvgen contact sheet</h1>\n<p>"
         << entries.size() << " items";
    if (shown < entries.size()) html << " (first " << shown << " shown)";
    html << "</p>\n<table>\n<tr><th>before</th><th>after</th><th>item</th></tr>\n";
    for (size_t i = 0; i < shown; ++i) {
        const ContactSheetEntry& e = entries[i];
        cv::Mat before = thumbnail(e.before, box);
        cv::Mat after = thumbnail(e.after, box);
        if (i < inMontage) {
            const int r = int(i) / cols, c = int(i) % cols;
            const cv::Point o(pad + c * cellW, pad + r * cellH);
            before.copyTo(montage(cv::Rect(o.x, o.y, box.width, box.height)));
            after.copyTo(montage(cv::Rect(o.x + box.width + pad, o.y, box.width, box.height)));
            cv::Mat cell = montage(cv::Rect(o.x, o.y + box.height, cellW - pad, captionH + pad));
            caption(cell, e.label, {2, 16}, 0.45, cv::Scalar(230, 230, 230));
            caption(cell, e.status + (e.detail.empty() ? "" : ": " + e.detail), {2, 34}, 0.4,
                    e.status == "failed" ? cv::Scalar(90, 90, 255) : cv::Scalar(150, 200, 150));
        }

        html << "<tr><td><a href=\"" << fileUrl(e.before) << "\"><img src=\"" << dataUri(before)
             << "\"></a></td><td>";
        if (!e.after.empty())
            html << "<a href=\"" << fileUrl(e.after) << "\"><img src=\"" << dataUri(after)
                 << "\"></a>";
        html << "</td><td>" << htmlEscape(e.label) << "<br><span class=\"" << htmlEscape(e.status)
             << "\">" << htmlEscape(e.status) << "</span><br>" << htmlEscape(e.detail)
             << "</td></tr>\n";
    }
    html << "</table>\n</body></html>\n";
    const std::string text = html.str();
    CVGEN_RETURN_IF_ERROR(
        writeFileAtomic(htmlPath, std::vector<uint8_t>(text.begin(), text.end())));
    return writeImageAtomic(pngPath, montage);
}

}  // namespace cvgen::stages
