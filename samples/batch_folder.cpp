// Way 2 — the folder batch runner from C++ (what `cvgen batch` does), with a progress callback
// and the JSONL report.
//
// Usage: sample_batch_folder [INPUT_DIR] [OUTPUT_DIR] [TARGET]
//   INPUT_DIR   folder of photos, recursive (default: samples/data)
//   OUTPUT_DIR  outputs mirror the input tree here, plus report.jsonl, the journal and a contact
//               sheet (default: out/batch_folder)
//   TARGET      1920x1080, 16:9, 16:9@720p, 16:9@1.5x… (default: 16:9@720p)
// Exit status: the batch's own (BatchSummary::exitCode: 0 all done, 1 some item failed,
// 3 stopped early), or 2 for bad arguments / a batch that could not start.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "cvgen/core.hpp"
#include "cvgen/local.hpp"
#include "cvgen/stages.hpp"

int main(int argc, char** argv) {
    const std::string input = argc > 1 ? argv[1] : "samples/data";
    const std::string output = argc > 2 ? argv[2] : "out/batch_folder";
    const std::string targetText = argc > 3 ? argv[3] : "16:9@720p";

    auto target = cvgen::parseTarget(targetText);
    if (!target.ok()) {
        std::cerr << "bad target: " << target.status() << "\n";
        return 2;
    }

    cvgen::stages::BatchRunner::Params p;
    p.input = input;
    p.output = output;
    p.op = cvgen::stages::BatchOp::EXPAND;
    p.target = *target;
    p.placement = cvgen::Placement::centred();
    p.outputFormat = "png";  // lossless: the originals stay bit-exact in the outputs
    p.provider = cvgen::local::LocalProvider::create();  // null would mean the same
    p.concurrency = 2;
    // Progress: called after every finished item, serialised, from worker threads.
    p.onProgress = [](const cvgen::stages::BatchProgress& pr) {
        std::printf("[%zu/%zu] ok %zu failed %zu  %.1f items/s  last %s\n", pr.finished, pr.total,
                    pr.ok, pr.failed, pr.itemsPerSecond, pr.lastItem.c_str());
        std::fflush(stdout);
    };
    // One callback per item: the same fields as a report line.
    p.onItem = [](const cvgen::stages::ItemReport& item) {
        if (item.status == cvgen::stages::ItemStatus::FAILED)
            std::printf("  %s: %s %s\n", item.relPath.c_str(), cvgen::codeName(item.code),
                        item.message.c_str());
        else
            std::printf("  %s: %s %dx%d -> %dx%d %s\n", item.relPath.c_str(),
                        cvgen::stages::toString(item.status), item.inputSize.width,
                        item.inputSize.height, item.outputSize.width, item.outputSize.height,
                        item.output.c_str());
    };

    cv::Ptr<cvgen::stages::BatchRunner> runner = cvgen::stages::BatchRunner::create(p);
    cvgen::Result<cvgen::stages::BatchSummary> run = runner->run();
    if (!run.ok()) {
        // The batch could not start (no input, output = input, unwritable folder…).
        std::cerr << "batch: " << run.status() << "\n";
        return 2;
    }
    const cvgen::stages::BatchSummary& s = *run;
    std::printf("%zu items: %zu ok, %zu failed, %zu skipped in %.2f s\n", s.total, s.ok, s.failed,
                s.skipped, s.seconds);
    if (s.stoppedEarly) std::printf("stopped early: %s\n", s.stopReason.c_str());
    std::printf("report: %s\ncontact sheet: %s\n", s.reportPath.c_str(), s.contactSheetPng.c_str());

    // The report is JSONL: one "item" line per input, then one "summary" line.
    std::ifstream report(s.reportPath);
    size_t lines = 0;
    for (std::string line; std::getline(report, line);) ++lines;
    std::printf("report lines: %zu\n", lines);
    return s.exitCode();
}
