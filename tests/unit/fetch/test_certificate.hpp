#pragma once

// A self-signed certificate made on the spot, for the https tests: the test
// trusts it through fetch_limits::ca_file, and the server presents it.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace surge::fetch::testing {

struct test_certificate {
  std::string certificate_pem;
  std::string private_key_pem;
};

// subject_alt_names in OpenSSL's syntax, e.g. "DNS:images.test,IP:127.0.0.1".
inline test_certificate make_self_signed(const std::string& subject_alt_names) {
  const auto check = [](bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("making the test certificate: ") + what);
  };
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  check(key != nullptr, "key");
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  check(X509_set_version(cert.get(), 2) == 1, "version");
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  check(X509_set_pubkey(cert.get(), key.get()) == 1, "public key");
  auto* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("surge fetch test"), -1,
                             -1, 0);
  check(X509_set_issuer_name(cert.get(), name) == 1, "issuer");
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, cert.get(), cert.get(), nullptr, nullptr, 0);
  auto* alt_names = X509V3_EXT_conf_nid(nullptr, &context, NID_subject_alt_name, subject_alt_names.c_str());
  check(alt_names != nullptr, "subjectAltName");
  X509_add_ext(cert.get(), alt_names, -1);
  X509_EXTENSION_free(alt_names);
  check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "signature");

  const auto pem = [](auto write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    write(bio.get());
    char* data = nullptr;
    const auto size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
  };
  test_certificate out;
  out.certificate_pem = pem([&](BIO* bio) { PEM_write_bio_X509(bio, cert.get()); });
  out.private_key_pem =
      pem([&](BIO* bio) { PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr); });
  return out;
}

}  // namespace surge::fetch::testing
