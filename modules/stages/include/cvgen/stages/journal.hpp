#ifndef CVGEN_STAGES_JOURNAL_HPP
#define CVGEN_STAGES_JOURNAL_HPP

#include <map>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/core/status.hpp"

namespace cvgen::stages {

/** @brief The first line of a journal: which run and which operation it records. */
struct JournalHeader {
    std::string runId;     ///< random per fresh run; part of every external task id
    std::string op;        ///< "expand", "upscale"
    std::string opParams;  ///< canonical text of the operation's parameters
};

/** @brief Where an item stands according to the journal (its last line wins). */
enum class ItemState {
    NONE,    ///< never started
    INTENT,  ///< started (tasks may have been created) but no outcome recorded: resume it
    DONE,    ///< output written
    FAILED   ///< failed with the recorded code
};

/** @brief What the journal knows about one item. */
struct JournalItem {
    ItemState state = ItemState::NONE;
    std::string externalTaskId;
    std::string output;
    std::string code;                  ///< canonical code name for FAILED
    std::string message;               ///< for FAILED
    std::vector<std::string> taskIds;  ///< from "task" lines (and the outcome line)
    int attempts = 0;                  ///< intent lines seen
};

/** @brief A journal read back: header and the state of every item it mentions. */
struct JournalContents {
    JournalHeader header;
    std::map<std::string, JournalItem> items;  ///< by relative path
    int skippedLines = 0;                      ///< unparsable lines ignored (a torn last write)
};

/** @brief Append-only JSONL journal of a batch, so a crashed or interrupted batch resumes
 * without creating a task twice.
 *
 * Lines: {"type":"header",...}, then per item {"type":"intent",...} before its tasks are created,
 * {"type":"task",...} after each task a provider finished (its external and task ids), and
 * {"type":"done"|"failed",...} at the end. Every line is written with one write(2) on an O_APPEND
 * descriptor and fsync(2)ed before the call returns. Thread-safe.
 */
class Journal {
public:
    virtual ~Journal() = default;

    /** @brief Starts a fresh journal at `path` (replacing any) and writes the header. */
    static Result<cv::Ptr<Journal>> create(const std::string& path, const JournalHeader& header);
    /** @brief Opens an existing journal for appending (after load()). A torn last line is
     * terminated first so the next line starts clean. */
    static Result<cv::Ptr<Journal>> openForAppend(const std::string& path);
    /** @brief Reads a journal, tolerating unparsable lines (counted in skippedLines).
     * @return NOT_FOUND when there is no file, DATA_LOSS when there is no header line. */
    static Result<JournalContents> load(const std::string& path);

    /** @brief Records that `item` is about to create tasks keyed by `externalTaskId`. */
    virtual Status intent(const std::string& item, const std::string& externalTaskId,
                          int attempt) = 0;
    /** @brief Records a finished provider task of `item` (external task id and task id). */
    virtual Status task(const std::string& item, const std::string& externalTaskId,
                        const std::string& taskId) = 0;
    /** @brief Records success. */
    virtual Status done(const std::string& item, const std::string& output,
                        const std::vector<std::string>& taskIds) = 0;
    /** @brief Records failure (code name and message; never secrets). */
    virtual Status failed(const std::string& item, const Status& why,
                          const std::vector<std::string>& taskIds) = 0;
};

}  // namespace cvgen::stages

#endif  // CVGEN_STAGES_JOURNAL_HPP
