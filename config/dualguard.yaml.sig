dualguard-signature v1
# verify with: dualguard verify dualguard.yaml --pub KEY.pub (docs/integrity.md)
algorithm: ed25519
key-id: 320ecb087679b039
file: dualguard.yaml
sha256: 750972e12d8210e85a9c91b29a74451a26c6248a923d978f41fe2f05a8a04fff
signature: cee8737db807659f975fdebe625317a2a4f504efa4ebe1b71a8711f1e99fd1e079a3839070d10095febfe37ef1b44f109836ca5cd4671873c0ce3a61095e4a07
