dualguard-signature v1
# verify with: dualguard verify dualguard.yaml --pub KEY.pub (docs/integrity.md)
algorithm: ed25519
key-id: 320ecb087679b039
file: dualguard.yaml
sha256: 9f415bf8466433cf307d1552fde5a8b670f1f36189b9023d1fccb6d6048af32b
signature: 73f2c09a7f9fc1b95bf016b94986801a8eeb35caff10ecc82fa46a3c9defb3d2423f9f061a842d143a7ba57d8246c63ca9a094aea4b37a01dda69df68264840d
