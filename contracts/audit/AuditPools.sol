// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Per-model verifier pools and the auditor draw (docs/PROTOCOL.md §9.1)
/// @notice A verifier joins the pool of each model it can re-execute. The auditor of a job is
/// the pool member with the smallest `keccak256(seed, member)` among those eligible at the
/// job's seed block: joined strictly before it and not left at or before it. A full pool admits
/// a verifier whose bond is larger than its smallest member's, which it evicts: filling a pool
/// with one's own auditors costs outbidding every honest one (adversary suite, pool-flood).
/// @dev Why this shape: the seed is public from the block after the commit, so nobody may be able
/// to change the outcome after seeing it. The minimum over a set does not depend on the order
/// of the array, eligibility is judged at the seed block, and a member that left stays in the
/// array (so in the draw of every seed older than its leaving) until it is pruned, which is
/// only allowed once the seed of every draw it could belong to has expired (256 blocks).
abstract contract AuditPools {
    /// Most active members of one model's pool.
    uint256 public constant MAX_POOL = 64;
    /// Most entries (active, or left and awaiting pruning) of one model's pool: bounds the draw's gas.
    uint256 public constant MAX_ENTRIES = 128;
    /// Most pools one verifier may be in: bounds the cost of ejecting it.
    uint256 public constant MAX_POOLS_PER_VERIFIER = 16;
    /// Blocks for which `blockhash` is available: the life of an unfixed draw.
    uint256 internal constant SEED_HORIZON = 256;

    struct Member {
        address verifier;
        uint48 joinedBlock;
        /// 0 while active.
        uint48 leftBlock;
    }

    mapping(bytes32 modelId => Member[]) internal _pools;
    /// Index + 1 of a verifier's entry in a pool (0: none).
    mapping(bytes32 modelId => mapping(address verifier => uint256)) internal _slotOf;
    mapping(bytes32 modelId => uint256) public activeMembers;
    /// The models whose pools a verifier is active in.
    mapping(address verifier => bytes32[]) internal _modelsOf;

    error AlreadyInPool(bytes32 modelId, address verifier);
    error NotInPool(bytes32 modelId, address verifier);
    error PoolFull(bytes32 modelId, uint256 max);
    /// The pool has MAX_POOL active members and none has a smaller bond than the joiner's.
    error OutbidToJoin(bytes32 modelId, uint256 bond, uint256 smallestBond);
    error TooManyPools(address verifier, uint256 max);
    error NotPrunable(bytes32 modelId, uint256 index);

    event PoolJoined(bytes32 indexed modelId, address indexed verifier, uint256 activeMembers);
    event PoolLeft(bytes32 indexed modelId, address indexed verifier, uint256 activeMembers);
    event PoolPruned(bytes32 indexed modelId, address indexed verifier);
    event PoolEvicted(bytes32 indexed modelId, address indexed evicted, address indexed by, uint256 bond);

    /// @notice Remove a member that left more than SEED_HORIZON blocks ago (anyone; frees a place).
    function prune(bytes32 modelId, uint256 index) external {
        Member[] storage pool = _pools[modelId];
        if (index >= pool.length) revert NotPrunable(modelId, index);
        Member memory m = pool[index];
        if (m.leftBlock == 0 || block.number <= uint256(m.leftBlock) + SEED_HORIZON) revert NotPrunable(modelId, index);
        Member memory last = pool[pool.length - 1];
        pool[index] = last;
        _slotOf[modelId][last.verifier] = index + 1;
        pool.pop();
        delete _slotOf[modelId][m.verifier];
        emit PoolPruned(modelId, m.verifier);
    }

    /// @notice Every entry of a model's pool, active or awaiting pruning.
    function poolOf(bytes32 modelId) external view returns (Member[] memory) {
        return _pools[modelId];
    }

    /// @notice Whether `verifier` is an active member of `modelId`'s pool.
    function isActiveMember(bytes32 modelId, address verifier) external view returns (bool) {
        uint256 slot = _slotOf[modelId][verifier];
        return slot != 0 && _pools[modelId][slot - 1].leftBlock == 0;
    }

    function modelsOf(address verifier) external view returns (bytes32[] memory) {
        return _modelsOf[verifier];
    }

    /// @dev The bond a verifier stands to lose (the eviction order).
    function _bondOf(address verifier) internal view virtual returns (uint256);

    /// @dev Called when a verifier leaves its last pool (by leaving or by eviction).
    function _afterLeftAll(address verifier) internal virtual;

    function _join(bytes32 modelId, address verifier) internal {
        if (_slotOf[modelId][verifier] != 0) revert AlreadyInPool(modelId, verifier);
        Member[] storage pool = _pools[modelId];
        if (pool.length >= MAX_ENTRIES) revert PoolFull(modelId, MAX_ENTRIES);
        if (activeMembers[modelId] >= MAX_POOL) _evictSmallestBond(modelId, verifier);
        bytes32[] storage mine = _modelsOf[verifier];
        if (mine.length >= MAX_POOLS_PER_VERIFIER) revert TooManyPools(verifier, MAX_POOLS_PER_VERIFIER);
        pool.push(Member({verifier: verifier, joinedBlock: uint48(block.number), leftBlock: 0}));
        _slotOf[modelId][verifier] = pool.length;
        mine.push(modelId);
        uint256 active = ++activeMembers[modelId];
        emit PoolJoined(modelId, verifier, active);
    }

    /// @dev Marks the entry left (it stays drawable for older seeds until pruned).
    /// @return remaining How many pools the verifier is still active in.
    function _leave(bytes32 modelId, address verifier) internal returns (uint256 remaining) {
        uint256 slot = _slotOf[modelId][verifier];
        if (slot == 0 || _pools[modelId][slot - 1].leftBlock != 0) revert NotInPool(modelId, verifier);
        _pools[modelId][slot - 1].leftBlock = uint48(block.number);
        uint256 active = --activeMembers[modelId];
        bytes32[] storage mine = _modelsOf[verifier];
        remaining = mine.length - 1;
        for (uint256 i; i <= remaining; ++i) {
            if (mine[i] == modelId) {
                mine[i] = mine[remaining];
                mine.pop();
                break;
            }
        }
        emit PoolLeft(modelId, verifier, active);
    }

    /// @dev Make room for `joiner` by evicting the active member with the smallest bond, if the
    /// joiner's is larger. The evicted entry stays drawable for older seeds, like any leaver's.
    function _evictSmallestBond(bytes32 modelId, address joiner) private {
        Member[] storage pool = _pools[modelId];
        address weakest;
        uint256 smallest = type(uint256).max;
        for (uint256 i; i < pool.length; ++i) {
            if (pool[i].leftBlock != 0) continue;
            uint256 b = _bondOf(pool[i].verifier);
            if (b < smallest) {
                smallest = b;
                weakest = pool[i].verifier;
            }
        }
        uint256 bond = _bondOf(joiner);
        if (bond <= smallest) revert OutbidToJoin(modelId, bond, smallest);
        if (_leave(modelId, weakest) == 0) _afterLeftAll(weakest);
        emit PoolEvicted(modelId, weakest, joiner, smallest);
    }

    /// @dev Leave every pool (ejection).
    function _leaveAll(address verifier) internal {
        bytes32[] storage mine = _modelsOf[verifier];
        while (mine.length > 0) _leave(mine[mine.length - 1], verifier);
    }

    /// @dev The auditor for `seed`: the eligible member (other than `prover`) with the smallest
    /// keccak256(seed, member); zero if none is eligible.
    function _pick(bytes32 modelId, bytes32 seed, uint256 seedBlock, address prover) internal view returns (address best) {
        Member[] storage pool = _pools[modelId];
        uint256 bestScore = type(uint256).max;
        uint256 n = pool.length;
        for (uint256 i; i < n; ++i) {
            Member memory m = pool[i];
            if (m.joinedBlock >= seedBlock || (m.leftBlock != 0 && m.leftBlock <= seedBlock) || m.verifier == prover) {
                continue;
            }
            uint256 score = uint256(keccak256(abi.encode(seed, m.verifier)));
            if (score < bestScore) {
                bestScore = score;
                best = m.verifier;
            }
        }
    }
}
