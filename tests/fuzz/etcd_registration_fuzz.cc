// A registration value read from etcd (index servers write them; anything
// that can write to etcd can write garbage). Checks: what parses is valid and
// survives a round trip through RegistrationJson.
#include "discovery/registration.h"
#include "fuzz_target.h"

using photosearch::fuzz::FuzzCheck;

PHOTOSEARCH_FUZZ_TARGET(etcd_registration) {
  auto r = photosearch::ParseRegistration(data);
  if (!r.ok()) {
    FuzzCheck(!r.status().message().empty(), "error without a message");
    FuzzCheck(r.status().message().size() < 2048, "unbounded error message");
    return;
  }
  FuzzCheck(photosearch::ValidateRegistration(*r).ok(), "parsed but invalid");
  auto again = photosearch::ParseRegistration(photosearch::RegistrationJson(*r));
  FuzzCheck(again.ok() && *again == *r, "round trip changed the registration");
}
