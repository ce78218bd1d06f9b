dualguard-signature v1
# verify with: dualguard verify dualguard.yaml --pub KEY.pub (docs/integrity.md)
algorithm: ed25519
key-id: 320ecb087679b039
file: dualguard.yaml
sha256: 0c0988bd4d0f5298d6ba516d4c721c84ac4763921092f2858eaf29fb471578df
signature: 90675022f291366988aeef7be23cea4c84ae0dc339826b7b5b38e03ae4e2e0f0ef3d2e41fb4dc599565237e5e09243f6184952954239d87dd471fe1590fb840f
