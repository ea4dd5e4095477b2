using Gateway.Auth;

namespace Gateway.Tests.Auth;

/// <summary>Permission patterns and the user-topic rules.</summary>
public sealed class TopicPermissionsTests
{
    [Theory]
    [InlineData("*", "anything", true)]
    [InlineData("team:*", "team:42/alerts", true)]
    [InlineData("team:*", "teams:1", false)]
    [InlineData("team:*/alerts", "team:42/alerts", true)]
    [InlineData("team:*/alerts", "team:42/other", false)]
    [InlineData("workflow:7f3a", "workflow:7f3a", true)]
    [InlineData("workflow:7f3a", "workflow:7f3ab", false)]
    [InlineData("a*b*c", "aXXbYYc", true)]
    [InlineData("a*b*c", "aXXbYY", false)]
    [InlineData("", "x", false)]
    public void Star_matches_any_run_of_characters(string pattern, string topic, bool expected) =>
        Assert.Equal(expected, TopicPermissions.Matches(pattern, topic));

    [Fact]
    public void Own_user_topic_is_always_readable_and_other_users_never()
    {
        var permissions = new TopicPermissions("alice", ["*"], []);
        Assert.True(permissions.CanSubscribe("user:alice"));
        Assert.False(permissions.CanSubscribe("user:bob"));
        Assert.False(permissions.CanSubscribe("user:alice2"));
        Assert.True(permissions.CanSubscribe("team:1"));
        Assert.False(permissions.CanPublish("team:1"));
    }

    [Fact]
    public void Publish_needs_a_matching_pattern()
    {
        var publisher = new TopicPermissions(null, [], ["user:*", "team:9"]);
        Assert.True(publisher.CanPublish("user:bob"));
        Assert.True(publisher.CanPublish("team:9"));
        Assert.False(publisher.CanPublish("team:10"));
        Assert.True(publisher.CanPublishSomewhere);
        Assert.False(publisher.CanSubscribe("user:bob"));
    }
}
