// The emulator's callback signatures: Standard Webhooks, signed by the same code the client
// verifies with (cvgen::remote::signWebhook), with the emulator's stricter secret check.
#include "cvgen/core/base64.hpp"
#include "cvgen/emulator/server.hpp"
#include "cvgen/remote/task.hpp"

namespace cvgen::emulator {

Result<std::string> webhookSignature(const std::string& secret, const std::string& msgId,
                                     int64_t timestampSeconds, const std::string& body) {
    static const std::string kPrefix = "whsec_";
    if (secret.rfind(kPrefix, 0) != 0)
        return invalidArgument("webhook secret: must start with whsec_");
    auto key = base64Decode(std::string_view(secret).substr(kPrefix.size()));
    if (!key.ok() || key->empty())
        return invalidArgument("webhook secret: not base64 after whsec_");
    return remote::signWebhook(secret, msgId, std::to_string(timestampSeconds), body);
}

}  // namespace cvgen::emulator
