// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Suite} from "../utils/Suite.sol";
import {vm} from "../utils/Vm.sol";
import {ModelRegistry} from "../../../contracts/registry/ModelRegistry.sol";
import {IModelRegistry} from "../../../contracts/interfaces/IModelRegistry.sol";

contract ModelRegistryTest is Suite {
    function setUp() public {
        deploySuite();
    }

    function test_register_storesEverything() public view {
        IModelRegistry.Model memory m = models.getModel(MODEL);
        assertEq(m.weightsRoot, keccak256(abi.encode("weights", MODEL)), "weights root");
        assertEq(m.arch.hidden, 64, "hidden");
        assertEq(m.encoding.chunkSize, 64, "chunk");
        assertEq(m.registrant, address(this), "registrant");
        assertEq(models.tolerance(MODEL, 3).rtol, 1 << 22, "tolerance");
        assertTrue(models.isRegistered(MODEL), "registered");
    }

    function test_register_isImmutable() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelAlreadyRegistered.selector, MODEL));
        registerModel(MODEL);
    }

    function test_register_onlyRegistrar() public {
        bytes32 role = models.REGISTRAR_ROLE();
        vm.expectRevert(abi.encodeWithSignature("AccessControlUnauthorizedAccount(address,bytes32)", client, role));
        vm.prank(client);
        models.registerModel(keccak256("x"), bytes32(uint256(1)), 0, arch(), _enc(1, 64), tolerances());
    }

    function test_register_validatesArchitecture() public {
        IModelRegistry.Architecture memory a = arch();
        a.kvHeads = 3; // 4 heads cannot share 3 KV heads
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidArchitecture.selector, "kvHeads"));
        models.registerModel(keccak256("x"), bytes32(uint256(1)), 0, a, _enc(1, 64), tolerances());
        a = arch();
        a.normEpsBits = 0x7f800000; // +inf
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidArchitecture.selector, "normEpsBits"));
        models.registerModel(keccak256("x"), bytes32(uint256(1)), 0, a, _enc(1, 64), tolerances());
        a = arch();
        a.normEpsBits = 0x27000000; // 2^-49: below what the Q48 judge represents
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidArchitecture.selector, "normEpsBits"));
        models.registerModel(keccak256("x"), bytes32(uint256(1)), 0, a, _enc(1, 64), tolerances());
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidArchitecture.selector, "weightsRoot"));
        models.registerModel(keccak256("x"), 0, 0, arch(), _enc(1, 64), tolerances());
    }

    /// ropeTheta packs the variant (PROTOCOL §2.1): base 0 = committed inverse frequencies
    /// (Llama-3.1 scaled RoPE), bit 31 = q/k/v biases (Qwen2); both register.
    function test_register_acceptsRopeAndBiasVariants() public {
        IModelRegistry.Architecture memory a = arch();
        a.ropeTheta = 0;
        models.registerModel(keccak256("llama-3.1-style"), bytes32(uint256(1)), 0, a, _enc(1, 64), tolerances());
        a.ropeTheta = uint32(1 << 31) | 1_000_000;
        models.registerModel(keccak256("qwen2-style"), bytes32(uint256(1)), 0, a, _enc(1, 64), tolerances());
        assertEq(models.getModel(keccak256("qwen2-style")).arch.ropeTheta, uint32(1 << 31) | 1_000_000, "packed theta");
    }

    function test_register_validatesEncodingAndTolerances() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidEncoding.selector, 3, 1, 64));
        models.registerModel(keccak256("x"), bytes32(uint256(1)), 0, arch(), _enc(3, 64), tolerances());
        // C = 16 cannot cover a 512-token context in C partials of C terms (16² < 512).
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidEncoding.selector, 1, 1, 16));
        models.registerModel(keccak256("x"), bytes32(uint256(1)), 0, arch(), _enc(1, 16), tolerances());
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidEncoding.selector, 1, 1, 4097));
        models.registerModel(keccak256("x"), bytes32(uint256(1)), 0, arch(), _enc(1, 4097), tolerances());
        IModelRegistry.OpTolerance[] memory few = new IModelRegistry.OpTolerance[](3);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidTolerances.selector, 3, OP_COUNT));
        models.registerModel(keccak256("x"), bytes32(uint256(1)), 0, arch(), _enc(1, 64), few);
    }

    function test_views_revertForUnknownModel() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotRegistered.selector, bytes32(uint256(9))));
        models.getModel(bytes32(uint256(9)));
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotRegistered.selector, bytes32(uint256(9))));
        models.tolerance(bytes32(uint256(9)), 0);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidTolerances.selector, OP_COUNT, OP_COUNT));
        models.tolerance(MODEL, OP_COUNT);
    }

    function _enc(uint8 dtype, uint32 chunk) private pure returns (IModelRegistry.Encoding memory) {
        return IModelRegistry.Encoding({traceDtype: dtype, weightsDtype: 1, chunkSize: chunk});
    }
}
