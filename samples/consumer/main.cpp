// Built by CI against the installed tree: proves find_package(cvgen) and cvgen::core work
// downstream (headers, library, and the OpenCV dependency all found through cvgenConfig.cmake).
#include <cvgen/core.hpp>

#include <iostream>

int main() {
    cvgen::ExpandRequest req;
    req.image = cvgen::ImageSource::fromMat(cv::Mat(400, 600, CV_8UC3, cv::Scalar(20, 40, 60)));
    req.ratios = {0.25, 0.25, 0.5, 0.5};
    const cvgen::Status st = cvgen::validate(req);
    const std::string b64 = cvgen::base64Encode(std::string("cvgen"));
    std::cout << "cvgen " << cvgen::versionString() << ": expand request " << st << ", area x"
              << req.ratios.areaFactor() << ", base64 " << b64 << "\n";
    return st.ok() && b64 == "Y3ZnZW4=" ? 0 : 1;
}
