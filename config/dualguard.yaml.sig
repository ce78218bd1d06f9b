dualguard-signature v1
# verify with: dualguard verify dualguard.yaml --pub KEY.pub (docs/integrity.md)
algorithm: ed25519
key-id: 320ecb087679b039
file: dualguard.yaml
sha256: 71fc17e755a4cf5096b69ee7420c320a6eb24d116751fc8b0506b884fd6c92bc
signature: bd879dd21fdc566a7e94a01a13c270ef464be55670cb16d7e55091eb313554a97446a884ca16dc6c1f42de06494a5a41431eee09afe18e3e697a7596c3026a04
