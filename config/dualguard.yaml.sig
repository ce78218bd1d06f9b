dualguard-signature v1
# verify with: dualguard verify dualguard.yaml --pub KEY.pub (docs/integrity.md)
algorithm: ed25519
key-id: 320ecb087679b039
file: dualguard.yaml
sha256: b8b87d4b5d8fcbeb543b36eea686528a550074cff9cfdf9dce4afb999a9a501b
signature: d5b3d5ed67e28d74cc492bd0161580aa36263853d4ea27ee5e5f03fa8e36f7b017fd95257f47b49e26e52b5980f8f274f5249a056bc1ac0dd2bdb8f8f36cbc0f
