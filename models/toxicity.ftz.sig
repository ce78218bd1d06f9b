dualguard-signature v1
# verify with: dualguard verify toxicity.ftz --pub KEY.pub (docs/integrity.md)
algorithm: ed25519
key-id: 320ecb087679b039
file: toxicity.ftz
sha256: 36d091dc01762cd643f5074d7ad6389ac2f14eb56a9b45fe1727e5c4da853d9d
signature: 2f406fb3186f785c81cbbe15d0c2f3cdf6397c72fa229e49c145624d75e808b61465abdfb3ba05306284140e25a264ab0f261a29f596ba8c73e4fb84600b8001
