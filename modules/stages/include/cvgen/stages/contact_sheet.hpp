#ifndef CVGEN_STAGES_CONTACT_SHEET_HPP
#define CVGEN_STAGES_CONTACT_SHEET_HPP

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/core/status.hpp"

namespace cvgen::stages {

/** @brief One before/after pair of a contact sheet. */
struct ContactSheetEntry {
    std::string before;  ///< input image path
    std::string after;   ///< output image path ("" when the item failed)
    std::string label;   ///< caption (relative path)
    std::string status;  ///< "ok", "failed"… shown under the caption
    std::string detail;  ///< e.g. the error message or "512x512 -> 1920x1080"
};

/** @brief Layout of a contact sheet. */
struct ContactSheetParams {
    cv::Size thumb = cv::Size(320, 180);  ///< box each thumbnail is fitted into (aspect kept)
    int maxItems = 200;                   ///< entries beyond this are left out (and counted)
    /** @brief The PNG montage shows at most this many entries (the HTML page shows maxItems),
     * so its memory stays flat however large the batch: a 320x180 pair costs ~0.5 MB. */
    int maxMontageItems = 32;
    int pairsPerRow = 2;  ///< PNG montage: before/after pairs per row
};

/** @brief Writes a self-contained HTML page (thumbnails embedded as JPEG data URIs, with links
 * to the full images) and a PNG montage of before/after thumbnails with captions, so a person
 * can look at a batch's results. Unreadable images appear as grey boxes.
 * @return the first I/O error writing either file (both are written atomically). */
Status writeContactSheet(const std::vector<ContactSheetEntry>& entries, const std::string& htmlPath,
                         const std::string& pngPath,
                         const ContactSheetParams& params = ContactSheetParams());

}  // namespace cvgen::stages

#endif  // CVGEN_STAGES_CONTACT_SHEET_HPP
