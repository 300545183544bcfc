#include "cvgen/stages/journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include "json_util.hpp"

namespace cvgen::stages {

namespace {

using detail::JsonWriter;

Status errnoStatus(const std::string& what, int err) {
    std::string msg = what + ": " + std::strerror(err);
    if (err == ENOENT) return notFound(msg);
    if (err == EACCES || err == EPERM) return permissionDenied(msg);
    return unavailable(msg);
}

long long nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

class JournalImpl final : public Journal {
public:
    JournalImpl(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    ~JournalImpl() override {
        if (fd_ >= 0) ::close(fd_);
    }

    Status writeLine(const rapidjson::StringBuffer& buf) {
        std::string line(buf.GetString(), buf.GetSize());
        line.push_back('\n');
        std::lock_guard<std::mutex> lock(mu_);
        const char* p = line.data();
        size_t left = line.size();
        while (left > 0) {
            ssize_t n = ::write(fd_, p, left);
            if (n < 0) {
                if (errno == EINTR) continue;
                return errnoStatus("journal " + path_, errno);
            }
            p += n;
            left -= size_t(n);
        }
        if (::fsync(fd_) != 0) return errnoStatus("journal fsync " + path_, errno);
        return Status();
    }

    Status intent(const std::string& item, const std::string& externalTaskId,
                  int attempt) override {
        rapidjson::StringBuffer buf;
        JsonWriter w(buf);
        w.StartObject();
        detail::key(w, "type", "intent");
        detail::key(w, "item", item);
        detail::key(w, "external_task_id", externalTaskId);
        detail::keyInt(w, "attempt", attempt);
        detail::keyInt(w, "time_ms", nowMs());
        w.EndObject();
        return writeLine(buf);
    }

    Status task(const std::string& item, const std::string& externalTaskId,
                const std::string& taskId) override {
        rapidjson::StringBuffer buf;
        JsonWriter w(buf);
        w.StartObject();
        detail::key(w, "type", "task");
        detail::key(w, "item", item);
        detail::key(w, "external_task_id", externalTaskId);
        detail::key(w, "task_id", taskId);
        detail::keyInt(w, "time_ms", nowMs());
        w.EndObject();
        return writeLine(buf);
    }

    Status done(const std::string& item, const std::string& output,
                const std::vector<std::string>& taskIds) override {
        rapidjson::StringBuffer buf;
        JsonWriter w(buf);
        w.StartObject();
        detail::key(w, "type", "done");
        detail::key(w, "item", item);
        detail::key(w, "output", output);
        detail::keyStrings(w, "task_ids", taskIds);
        detail::keyInt(w, "time_ms", nowMs());
        w.EndObject();
        return writeLine(buf);
    }

    Status failed(const std::string& item, const Status& why,
                  const std::vector<std::string>& taskIds) override {
        rapidjson::StringBuffer buf;
        JsonWriter w(buf);
        w.StartObject();
        detail::key(w, "type", "failed");
        detail::key(w, "item", item);
        detail::key(w, "code", codeName(why.code()));
        detail::keyInt(w, "provider_code", why.providerCode());
        detail::key(w, "message", why.message());
        detail::keyStrings(w, "task_ids", taskIds);
        detail::keyInt(w, "time_ms", nowMs());
        w.EndObject();
        return writeLine(buf);
    }

private:
    int fd_;
    std::string path_;
    std::mutex mu_;
};

Status syncParentDir(const std::string& path) {
    std::string dir = path;
    const size_t slash = dir.rfind('/');
    dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : dir.substr(0, slash));
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return errnoStatus("open " + dir, errno);
    ::fsync(dfd);
    ::close(dfd);
    return Status();
}

}  // namespace

Result<cv::Ptr<Journal>> Journal::create(const std::string& path, const JournalHeader& header) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return errnoStatus("cannot create journal " + path, errno);
    auto j = cv::makePtr<JournalImpl>(fd, path);
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    detail::key(w, "type", "header");
    detail::keyInt(w, "version", 1);
    detail::key(w, "run_id", header.runId);
    detail::key(w, "op", header.op);
    detail::key(w, "op_params", header.opParams);
    detail::keyInt(w, "time_ms", nowMs());
    w.EndObject();
    CVGEN_RETURN_IF_ERROR(j->writeLine(buf));
    CVGEN_RETURN_IF_ERROR(syncParentDir(path));
    return cv::Ptr<Journal>(j);
}

Result<cv::Ptr<Journal>> Journal::openForAppend(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0) return errnoStatus("cannot open journal " + path, errno);
    // A crash mid-write can leave a line without its newline: end it, so the torn line stays
    // one unparsable line instead of corrupting the next one.
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
        char last = '\n';
        if (::pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') {
            if (::write(fd, "\n", 1) != 1 || ::fsync(fd) != 0) {
                const int err = errno;
                ::close(fd);
                return errnoStatus("cannot repair journal " + path, err);
            }
        }
    }
    return cv::Ptr<Journal>(cv::makePtr<JournalImpl>(fd, path));
}

Result<JournalContents> Journal::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) return errnoStatus("journal " + path, errno);
        return unavailable("cannot read journal " + path);
    }
    JournalContents out;
    bool haveHeader = false;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        rapidjson::Document d;
        d.Parse(line.c_str(), line.size());
        if (d.HasParseError() || !d.IsObject()) {
            ++out.skippedLines;
            continue;
        }
        const std::string type = detail::getString(d, "type");
        if (type == "header") {
            if (haveHeader) continue;  // the first header wins
            haveHeader = true;
            out.header.runId = detail::getString(d, "run_id");
            out.header.op = detail::getString(d, "op");
            out.header.opParams = detail::getString(d, "op_params");
            continue;
        }
        const std::string item = detail::getString(d, "item");
        if (item.empty()) {
            ++out.skippedLines;
            continue;
        }
        JournalItem& it = out.items[item];
        if (type == "intent") {
            it.state = ItemState::INTENT;
            it.externalTaskId = detail::getString(d, "external_task_id");
            ++it.attempts;
        } else if (type == "task") {
            const std::string id = detail::getString(d, "task_id");
            if (!id.empty()) it.taskIds.push_back(id);
        } else if (type == "done") {
            it.state = ItemState::DONE;
            it.output = detail::getString(d, "output");
            it.taskIds = detail::getStrings(d, "task_ids");
        } else if (type == "failed") {
            it.state = ItemState::FAILED;
            it.code = detail::getString(d, "code");
            it.message = detail::getString(d, "message");
            it.taskIds = detail::getStrings(d, "task_ids");
        } else {
            ++out.skippedLines;
        }
    }
    if (!haveHeader) return dataLoss("journal " + path + " has no header line");
    return out;
}

}  // namespace cvgen::stages
