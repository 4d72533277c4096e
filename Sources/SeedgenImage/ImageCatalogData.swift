/// The built-in catalog, compiled into the binary so it stays relocatable (no resource lookup).
///
/// Publisher facts behind each entry:
/// - Ubuntu (cloud-images.ubuntu.com/<codename>/current/): `SHA256SUMS` in GNU format (`hex *name`),
///   detached `SHA256SUMS.gpg`, signed by the "UEC Image Automatic Signing Key" D2EB 4462 6FDD C30B
///   513D 5BB7 1A5D 6C4C 7DB8 7C81 (Canonical's ubuntu-cloud-docs, "verify image checksum"), shipped in
///   /usr/share/keyrings/ubuntu-cloudimage-keyring.gpg by the package ubuntu-keyring (Ubuntu; Debian 13;
///   Debian 12 only in bookworm-backports). Dated builds live in sibling serial directories (`20240423/`).
/// - Debian (cloud.debian.org/images/cloud/<codename>/latest/): `SHA512SUMS`, GNU format, unsigned.
///   Dated builds live in `<codename>/<YYYYMMDD>-<build number>/` (`20250428-2096/`, `20210425-618/`)
///   with the serial in the file name.
/// - AlmaLinux (repo.almalinux.org/almalinux/9/cloud/x86_64/images/): `CHECKSUM` with a detached
///   `CHECKSUM.asc` (AlmaLinux wiki, docs/cloud/Generic-cloud.md), signed by the AlmaLinux OS 9 key
///   BF18 AC28 7617 8908 D6E7 1267 D36C B86C B86B 3716; the `-latest` file is listed beside its dated
///   twin with the same digest. Copies of the list seen in other projects use both GNU and BSD lines;
///   ImageChecksumList reads either, whatever `checksumFormat` says.
enum ImageCatalogData {
    static let ubuntuFingerprint = "D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81"
    static let ubuntuKeyring = "/usr/share/keyrings/ubuntu-cloudimage-keyring.gpg"
    static let ubuntuKeyringHint =
        "install the package `ubuntu-keyring` (Ubuntu, Debian 13; Debian 12: from bookworm-backports), or export the "
        + "key D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81 with `gpg --export` into that path"
    static let almaFingerprint = "BF18AC2876178908D6E71267D36CB86CB86B3716"
    static let almaKeyringHint =
        "AlmaLinux ships no Debian keyring: `gpg --export \(almaFingerprint) > "
        + "~/.config/seedgen/keyrings/almalinux-9.gpg` after importing RPM-GPG-KEY-AlmaLinux-9 and checking its "
        + "fingerprint"

    static func ubuntu(version: String, codename: String) -> ImageCatalogEntry {
        let base = "https://cloud-images.ubuntu.com/\(codename)"
        let file = "\(codename)-server-cloudimg-amd64.img"
        return ImageCatalogEntry(
            name: "ubuntu-\(version)", description: "Ubuntu \(version) LTS (\(codename)) server cloud image, amd64",
            url: "\(base)/current/\(file)", checksums: "SHA256SUMS", checksumFormat: .gnu, digestAlgorithm: .sha256,
            signatureStyle: .detached, signature: "SHA256SUMS.gpg", keyring: ubuntuKeyring,
            fingerprints: [ubuntuFingerprint],
            keyringHint: ubuntuKeyringHint,
            latest: .serialDirectory(
                indexURL: "\(base)/", serialPattern: "^[0-9]{8}(\\.[0-9]+)?$", imageURL: "\(base)/{serial}/\(file)",
                checksumsURL: "\(base)/{serial}/SHA256SUMS", signatureURL: "\(base)/{serial}/SHA256SUMS.gpg"))
    }

    static func debian(version: String, codename: String) -> ImageCatalogEntry {
        let base = "https://cloud.debian.org/images/cloud/\(codename)"
        return ImageCatalogEntry(
            name: "debian-\(version)", description: "Debian \(version) (\(codename)) genericcloud, amd64",
            url: "\(base)/latest/debian-\(version)-genericcloud-amd64.qcow2", checksums: "SHA512SUMS",
            checksumFormat: .gnu,
            digestAlgorithm: .sha512, signatureStyle: .none,
            latest: .serialDirectory(
                indexURL: "\(base)/", serialPattern: "^[0-9]{8}-[0-9]+$",
                imageURL: "\(base)/{serial}/debian-\(version)-genericcloud-amd64-{serial}.qcow2",
                checksumsURL: "\(base)/{serial}/SHA512SUMS", signatureURL: nil))
    }

    static let entries: [ImageCatalogEntry] = [
        ubuntu(version: "26.04", codename: "resolute"),
        ubuntu(version: "24.04", codename: "noble"),
        ubuntu(version: "22.04", codename: "jammy"),
        debian(version: "13", codename: "trixie"),
        debian(version: "12", codename: "bookworm"),
        debian(version: "11", codename: "bullseye"),
        ImageCatalogEntry(
            name: "almalinux-9", description: "AlmaLinux OS 9 GenericCloud, x86_64",
            url:
                "https://repo.almalinux.org/almalinux/9/cloud/x86_64/images/AlmaLinux-9-GenericCloud-latest.x86_64.qcow2",
            checksums: "CHECKSUM", checksumFormat: .bsd, digestAlgorithm: .sha256, signatureStyle: .detached,
            signature: "CHECKSUM.asc", keyring: "~/.config/seedgen/keyrings/almalinux-9.gpg",
            fingerprints: [almaFingerprint],
            keyringHint: almaKeyringHint,
            latest: .sameDigestInList(
                datedNamePattern: "^AlmaLinux-9-GenericCloud-9\\.[0-9]+-[0-9]{8}(\\.[0-9]+)?\\.x86_64\\.qcow2$")),
    ]
}
